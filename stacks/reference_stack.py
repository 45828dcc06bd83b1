"""A reference deployment: one LmiEndpoint from ReferenceSettings and context overrides."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lmi_constructs import Engine, LmiEndpoint, ModelCode, ModelSource

from .context import ReferenceSettings, apply_overrides

MODEL_CODE_DIR = Path(__file__).resolve().parent.parent / "model_code"
# Both load timeouts of the reference deployment (FACTS.md): 40 minutes.
REFERENCE_TIMEOUT = Duration.seconds(2400)
# Until the weights copier lands, weights are staged by hand under this documented layout.
DEFAULT_WEIGHTS_BUCKET = f"lmi-weights-{Aws.ACCOUNT_ID}-{Aws.REGION}"


class ReferenceStack(Stack):
    defaults: ReferenceSettings

    def __init__(self, scope: Construct, id: str, **kwargs):
        super().__init__(scope, id, **kwargs)
        settings = apply_overrides(self, id, self.defaults)
        self.endpoint = LmiEndpoint(
            self, "Endpoint",
            model=self._weights(settings),
            instance_type=settings.instance_type,
            instance_count=settings.instance_count,
            tensor_parallel_degree=settings.tensor_parallel_degree,
            engine=settings.engine,  # parsed and checked by the spec
            dtype=settings.dtype,
            image=settings.image_tag,
            model_code=self._model_code(settings.engine),
            volume_size_gb=settings.volume_size_gb,
            model_data_download_timeout=REFERENCE_TIMEOUT,
            container_startup_health_check_timeout=REFERENCE_TIMEOUT,
        )

    @staticmethod
    def _model_code(engine_name: str):
        """Our handler for engines that run model.py; VLLM loads the weights by itself."""
        try:
            needs_code = Engine.parse(engine_name).needs_model_code
        except ValueError:
            needs_code = True  # the spec reports the bad name, with the other problems
        return ModelCode.from_directory(MODEL_CODE_DIR) if needs_code else None

    def _weights(self, settings: ReferenceSettings) -> ModelSource:
        if settings.weights_uri:
            return ModelSource.from_s3_uri(settings.weights_uri, model_id=settings.model_id)
        bucket = s3.Bucket.from_bucket_name(self, "StagedWeights", DEFAULT_WEIGHTS_BUCKET)
        return ModelSource.from_bucket(bucket, settings.model_id, model_id=settings.model_id)
