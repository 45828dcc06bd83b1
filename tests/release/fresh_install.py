"""The release as a team gets it: constructs/ built into an sdist and a wheel (the wheel from the
sdist), the wheel installed into a new virtual environment that cannot see this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "constructs"


@dataclass(frozen=True)
class Distributions:
    sdist: Path
    wheel: Path
    log: str  # python -m build's output


@dataclass(frozen=True)
class FreshInstall:
    venv: Path
    env: Dict[str, str]  # PATH without this checkout: the venv's bin, then a bin with only node

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def run(self, args: List[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        """A command of the fresh venv (args[0] names a script in its bin), from cwd."""
        command = [str(self.venv / "bin" / args[0]), *args[1:]]
        return subprocess.run(
            command, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=timeout
        )


def build_distributions(outdir: Path) -> Distributions:
    """`python -m build` with neither --sdist nor --wheel builds the sdist, then the wheel from the
    unpacked sdist, so a file missing from the sdist fails here (pypa/build since 0.5.0:
    https://github.com/pypa/build/pull/304). Build isolation fetches hatchling as pip would."""
    done = subprocess.run(
        [sys.executable, "-m", "build", str(PROJECT), "--outdir", str(outdir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (sdist,) = outdir.glob("*.tar.gz")
    (wheel,) = outdir.glob("*.whl")
    return Distributions(sdist, wheel, done.stdout + done.stderr)


def install_fresh(wheel: Path, directory: Path) -> FreshInstall:
    """A new venv from the base interpreter (no --system-site-packages: the base has none of the
    dependencies, and this venv's editable install would bring the checkout back) with the wheel
    and its dependencies, pinned to the versions this environment tests with so pip's cache
    answers and a new upstream release cannot change the result."""
    venv = directory / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    constraints = directory / "constraints.txt"
    constraints.write_text(_pinned_dependencies())
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")),
            *("install", "--quiet", "--no-compile", "--constraint", str(constraints), str(wheel)),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return FreshInstall(venv, _environment_without_checkout(venv, directory))


def _pinned_dependencies() -> str:
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "".join(
        line + "\n"
        for line in frozen.splitlines()
        if not line.lower().replace("_", "-").startswith("lmi-constructs")
    )


def _environment_without_checkout(venv: Path, directory: Path) -> Dict[str, str]:
    """os.environ less anything pointing into this checkout or at another venv; node (jsii runs
    it for every CDK call) from the test environment's bin, alone in a folder of its own."""
    node = shutil.which("node", path=str(Path(sys.executable).parent)) or shutil.which("node")
    assert node, "node is needed to synthesize (make install puts it in .venv/bin)"
    node_bin = directory / "node-bin"
    node_bin.mkdir()
    (node_bin / "node").symlink_to(node)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    }
    kept = [
        entry
        for entry in env.get("PATH", "").split(os.pathsep)
        if entry and not Path(entry).resolve().is_relative_to(ROOT)
    ]
    env["PATH"] = os.pathsep.join([str(venv / "bin"), str(node_bin), *kept])
    env["PYTHONNOUSERSITE"] = "1"
    env["CDK_DISABLE_VERSION_CHECK"] = "true"
    return env
