"""ModelCode: the handler bundle (serving.properties, model.py, ...) as a model.tar.gz S3 asset."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from .packaging import build_tarball, bundle_files


@dataclass(frozen=True)
class ModelCodeConfig:
    model_data_url: str  # s3:// URL of the tarball, the Model's ModelDataUrl
    object_arn: str  # the one object the execution role may read


class ModelCode:
    """Handler code for the container. `ModelCode.from_directory("model_code")`."""

    def __init__(self, directory: Path):
        self.directory = Path(directory).resolve()
        if not self.directory.is_dir():
            raise ValueError(f"model_code: {directory} is not a directory; pass the folder "
                             "holding serving.properties and model.py")
        if not (self.directory / "serving.properties").is_file():
            raise ValueError(f"model_code: {directory} has no serving.properties; DJL Serving "
                             "needs it to pick the engine")

    @classmethod
    def from_directory(cls, path: "str | Path") -> "ModelCode":
        return cls(Path(path))

    def bind(self, scope: Construct, role: iam.IRole) -> ModelCodeConfig:
        """Pack the directory, upload it as an asset, and let role read exactly that object."""
        files = bundle_files(self.directory)
        digest = hashlib.sha256()
        for relative in files:
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update((self.directory / relative).read_bytes())
        # One tarball per content hash: repeated synths reuse it, and the name explains itself.
        staging = Path(tempfile.gettempdir()) / "lmi-model-code" / digest.hexdigest()[:16]
        tarball = build_tarball(self.directory, staging / "model.tar.gz", files)
        asset = s3_assets.Asset(scope, "ModelCode", path=str(tarball))
        object_arn = f"arn:{_partition(scope)}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"
        iam.Grant.add_to_principal(grantee=role, actions=["s3:GetObject"],
                                   resource_arns=[object_arn])
        return ModelCodeConfig(model_data_url=asset.s3_object_url, object_arn=object_arn)


def _partition(scope: Construct) -> str:
    from aws_cdk import Stack
    return Stack.of(scope).partition
