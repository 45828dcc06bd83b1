"""DeepSpeed at the versions the reference images pin (0.7.3 in 0.19.0, 0.7.5 in 0.20.0), read
from their PyPI sdists, which `make install` downloads into the venv. They cannot be imported
whole on today's torch (they import torch._six, gone since torch 2.0), so tests load the one
module they need, or read a signature, straight from the source."""

from __future__ import annotations

import ast
import sys
import tarfile
import types
from pathlib import Path

SDISTS = Path(sys.prefix) / "deepspeed-sdists"
PINNED = {"0.19.0-deepspeed0.7.3-cu113": "0.7.3", "0.20.0-deepspeed0.7.5-cu116": "0.7.5"}


def source(version: str, path: str) -> str:
    archive = SDISTS / f"deepspeed-{version}.tar.gz"
    if not archive.exists():
        raise FileNotFoundError(
            f"{archive} is missing: run `make install`, which downloads the pinned DeepSpeed sdists"
        )
    with tarfile.open(archive) as tar:
        return tar.extractfile(f"deepspeed-{version}/{path}").read().decode()


def on_device(version: str):
    """deepspeed.OnDevice as that version defines it (deepspeed/utils/init_on_device.py)."""
    module = types.ModuleType(f"deepspeed_{version.replace('.', '_')}_init_on_device")
    exec(
        compile(source(version, "deepspeed/utils/init_on_device.py"), module.__name__, "exec"),
        module.__dict__,
    )
    return module.OnDevice


def init_inference_signature(version: str):
    """A function with deepspeed.init_inference's signature at that version (body dropped)."""
    tree = ast.parse(source(version, "deepspeed/__init__.py"))
    definition = next(
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "init_inference"
    )
    stub = ast.FunctionDef(
        name="init_inference",
        args=definition.args,
        body=[ast.Pass()],
        decorator_list=[],
        returns=None,
        type_params=[],
    )
    module = ast.fix_missing_locations(ast.Module(body=[stub], type_ignores=[]))
    namespace: dict = {}
    exec(compile(module, f"deepspeed-{version}", "exec"), namespace)
    return namespace["init_inference"]
