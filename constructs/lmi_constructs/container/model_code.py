"""ModelCode: the handler bundle (model.py, its modules, serving.properties) as a model.tar.gz
S3 asset, with serving.properties rendered from the endpoint's validated spec."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

from aws_cdk import AssetHashType, Stage
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct

from ..spec import SpecError, Violation
from ..spec.serving import render_properties
from .packaging import build_tarball, bundle_files

SERVING_PROPERTIES = Path("serving.properties")


@dataclass(frozen=True)
class ModelCodeConfig:
    model_data_url: str  # s3:// URL of the tarball, the Model's ModelDataUrl
    serving_properties: str  # as rendered into the tarball


class ModelCode:
    """Handler code for the container: `ModelCode.packaged()` (the handler this package ships)
    or `ModelCode.from_directory("model_code")` (a folder of your own).

    The directory's serving.properties holds the handler's own settings (option.entryPoint,
    option.weights_dir, ...); LmiEndpoint writes the keys it derives from its props (engine,
    tensor parallel degree, dtype, loading timeout, request limits) on top, and refuses a line
    that disagrees with them.

    Args:
        directory: the folder holding serving.properties and model.py (no symlinks); packed
            into a deterministic model.tar.gz asset.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory).resolve()
        if not self.directory.is_dir():
            raise SpecError(
                [
                    Violation(
                        "model_code",
                        str(directory),
                        "is not a directory",
                        "pass the folder holding serving.properties and model.py",
                    )
                ],
                subject="model code",
            )
        if not (self.directory / SERVING_PROPERTIES).is_file():
            raise SpecError(
                [
                    Violation(
                        "model_code",
                        str(directory),
                        "has no serving.properties, which DJL Serving needs to pick the engine",
                        "add serving.properties beside model.py",
                    )
                ],
                subject="model code",
            )

    @classmethod
    def from_directory(cls, path: "str | Path") -> "ModelCode":
        """Args:
        path: the handler's folder, e.g. "model_code".
        """
        return cls(Path(path))

    @classmethod
    def packaged(cls) -> "ModelCode":
        """The DJL Serving handler shipped in this package (the repository's model_code/), for
        DEEPSPEED and ACCELERATE endpoints in an app that installed lmi-constructs from a wheel.
        """
        from .handler_files import handler_directory

        return cls(handler_directory())

    def render_serving_properties(self, owned: Dict[str, str]) -> Tuple[str, List[Violation]]:
        """serving.properties as it will be bundled, and the directory's lines that disagree."""
        return render_properties((self.directory / SERVING_PROPERTIES).read_text(), owned)

    def bind(self, scope: Construct, role: iam.IRole, serving_properties: str) -> ModelCodeConfig:
        """Pack the directory with serving_properties in place of its own, upload it as an
        asset, and let role read exactly that object."""
        files = bundle_files(self.directory)
        contents = {SERVING_PROPERTIES: serving_properties.encode()}
        digest = hashlib.sha256()
        for relative in files:
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update(contents.get(relative) or (self.directory / relative).read_bytes())
        # Staged in this app's own output directory, which only this user writes (a shared,
        # predictable temp directory could be created first by someone else).
        stage = Stage.of(scope)
        assert stage is not None, "a construct in an app is in a stage"
        staging = Path(stage.outdir) / "lmi-model-code" / digest.hexdigest()[:16]
        tarball = build_tarball(self.directory, staging / "model.tar.gz", files, contents)
        # The asset's identity is the content digest, not the tarball's bytes: those also depend
        # on the local zlib build, and a new hash would roll the endpoint for nothing.
        asset = s3_assets.Asset(
            scope,
            "ModelCode",
            path=str(tarball),
            asset_hash=digest.hexdigest(),
            asset_hash_type=AssetHashType.CUSTOM,
        )
        object_arn = f"arn:{_partition(scope)}:s3:::{asset.s3_bucket_name}/{asset.s3_object_key}"
        iam.Grant.add_to_principal(
            grantee=role, actions=["s3:GetObject"], resource_arns=[object_arn]
        )
        return ModelCodeConfig(
            model_data_url=asset.s3_object_url,
            serving_properties=serving_properties,
        )


def _partition(scope: Construct) -> str:
    from aws_cdk import Stack

    return Stack.of(scope).partition
