"""A reference deployment: one LmiEndpoint from ReferenceSettings and context overrides."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from aws_cdk import Annotations, Duration, Stack

from constructs import Construct
from lmi_constructs import Engine, LmiEndpoint, ModelCode, ModelSource

from .context import ReferenceSettings, apply_overrides
from .weights_stack import WeightsStack

MODEL_CODE_DIR = Path(__file__).resolve().parent.parent / "model_code"
# Both load timeouts of the reference deployment (the AWS Machine Learning blog's 2022 post
# "Deploy BLOOM-176B and OPT-30B on Amazon SageMaker with large model inference Deep Learning
# Containers and DeepSpeed"): 40 minutes.
REFERENCE_TIMEOUT = Duration.seconds(2400)
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


class ReferenceStack(Stack):
    defaults: ReferenceSettings

    def __init__(
        self, scope: Construct, id: str, *, weights: Optional[WeightsStack] = None, **kwargs
    ):
        """weights: the stack whose bucket the Hub copy lands in (LmiWeights in the app);
        without it the endpoint creates its own bucket, which a failed first deploy orphans."""
        super().__init__(scope, id, **kwargs)
        settings = apply_overrides(self, id, self.defaults)
        # Pre-staged weights (weightsUri) need no bucket of ours: no dependency on LmiWeights.
        bucket = weights.bucket_for(self) if weights and not settings.weights_uri else None
        self.endpoint = LmiEndpoint(
            self,
            "Endpoint",
            model=self._weights(settings),
            weights_bucket=bucket,
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
        """Our handler when the engine's profile names a handler backend (it runs model.py);
        None for an engine LMI serves itself, which loads the weights by itself. An unknown
        name gets the handler: LmiEndpoint's spec refuses the name (engine_from), naming the
        choices, and no model_code problem is added on top of it."""
        engine = Engine.find(engine_name)
        if engine is not None and not engine.needs_model_code:
            return None
        return ModelCode.from_directory(MODEL_CODE_DIR)

    def _weights(self, settings: ReferenceSettings) -> ModelSource:
        """Pre-staged weights when weightsUri is given, else a copy from the Hub in the deploy."""
        if settings.weights_uri:
            return ModelSource.from_s3_uri(settings.weights_uri, model_id=settings.model_id)
        if not _COMMIT_SHA.match(settings.revision):
            Annotations.of(self).add_warning_v2(
                "lmi:unpinned-revision",
                f"revision {settings.revision!r} of {settings.model_id} is resolved to a commit "
                "once, at the first deploy: CloudFormation calls the copy again only when its "
                "properties change, so later pushes to the branch are never copied and the "
                "endpoint keeps the first commit. Pin one: -c "
                f"{self.stack_name}:revision=$(lmi resolve-revision {settings.model_id} "
                f"{settings.revision})",
            )
        return ModelSource.from_hugging_face(settings.model_id, settings.revision)
