"""A reference deployment: one LmiEndpoint from ReferenceSettings and context overrides."""

from __future__ import annotations

from pathlib import Path

import re

from aws_cdk import Annotations, Duration, Stack
from constructs import Construct

from lmi_constructs import Engine, LmiEndpoint, ModelCode, ModelSource

from .context import ReferenceSettings, apply_overrides

MODEL_CODE_DIR = Path(__file__).resolve().parent.parent / "model_code"
# Both load timeouts of the reference deployment (FACTS.md): 40 minutes.
REFERENCE_TIMEOUT = Duration.seconds(2400)
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


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
            request_limits=settings.request_limits,
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
        """Pre-staged weights when weightsUri is given, else a copy from the Hub in the deploy."""
        if settings.weights_uri:
            return ModelSource.from_s3_uri(settings.weights_uri, model_id=settings.model_id)
        if not _COMMIT_SHA.match(settings.revision):
            Annotations.of(self).add_warning_v2(
                "lmi:unpinned-revision",
                f"revision {settings.revision!r} of {settings.model_id} is resolved at deploy "
                "time; a moved branch copies new weights and rolls the endpoint. Pin a commit: "
                f"-c {self.stack_name}:revision=<40-hex commit sha>")
        return ModelSource.from_hugging_face(settings.model_id, settings.revision)
