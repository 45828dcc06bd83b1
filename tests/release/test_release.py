"""A release a team can pin: the sdist and the wheel build (the wheel from the sdist), pass
`twine check --strict`, install into a fresh venv that cannot see this checkout, and there print
the one version, synthesize a team's app and find the packaged handler."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from lmi_constructs.container.packaging import bundle_files
from lmi_constructs.version import __version__

from .fresh_install import PROJECT, ROOT, build_distributions, install_fresh

HANDLER = ROOT / "model_code"  # the repository's handler: a link to the packaged folder
README = PROJECT / "README.md"  # the PyPI page


def handler_files() -> list:
    return [path.as_posix() for path in bundle_files(HANDLER)]


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    return build_distributions(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def fresh(dists, tmp_path_factory):
    return install_fresh(dists.wheel, tmp_path_factory.mktemp("fresh"))


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory):
    """A working directory outside the checkout (no model_code/ beside it)."""
    return tmp_path_factory.mktemp("team")


def test_one_version_names_both_distributions(dists):
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert dists.sdist.name == f"lmi_constructs-{__version__}.tar.gz"
    assert dists.wheel.name == f"lmi_constructs-{__version__}-py3-none-any.whl"
    assert "Building wheel from sdist" in dists.log


def test_the_handler_ships_in_the_sdist_and_the_wheel(dists):
    with tarfile.open(dists.sdist) as sdist:
        prefix = f"lmi_constructs-{__version__}/lmi_constructs/handler/"
        in_sdist = sorted(n[len(prefix) :] for n in sdist.getnames() if n.startswith(prefix))
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = [n for n in wheel.namelist() if n.startswith("lmi_constructs/handler/")]
        in_wheel = {n[len("lmi_constructs/handler/") :]: wheel.read(n) for n in names}
    assert in_sdist == handler_files()
    assert sorted(in_wheel) == handler_files()
    assert all(in_wheel[name] == (HANDLER / name).read_bytes() for name in handler_files())


def test_the_wheel_metadata_renders_on_pypi(dists):
    """twine check --strict: the README renders as the long description, nothing is missing."""
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(dists.sdist), str(dists.wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_readme_is_the_long_description(dists):
    with zipfile.ZipFile(dists.wheel) as wheel:
        metadata = wheel.read(f"lmi_constructs-{__version__}.dist-info/METADATA").decode()
    assert "Description-Content-Type: text/markdown" in metadata
    assert metadata.split("\n\n", 1)[1].strip() == README.read_text().strip()


def test_the_fresh_venv_imports_the_wheel_not_the_checkout(fresh, elsewhere):
    done = fresh.run(
        [
            "python",
            "-c",
            "import importlib.metadata, json, lmi_constructs; print(json.dumps(["
            "lmi_constructs.__file__, importlib.metadata.version('lmi-constructs')]))",
        ],
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stderr
    location, version = json.loads(done.stdout)
    assert Path(location).is_relative_to(fresh.venv)
    assert not Path(location).resolve().is_relative_to(ROOT)
    assert version == __version__


def test_lmi_version_prints_the_one_version(fresh, elsewhere):
    done = fresh.run(["lmi", "--version"], cwd=elsewhere)
    assert (done.returncode, done.stdout.strip()) == (0, f"lmi (lmi-constructs) {__version__}")


def test_lmi_local_finds_the_packaged_handler(fresh, elsewhere):
    """Outside a clone `lmi local --demo` used to stop at "no model.py there". From the wheel it
    finds the handler; without the [local] extra (torch, transformers) it says how to get it."""
    done = fresh.run(
        [
            "python",
            "-c",
            "from lmi_constructs.container.handler_files import handler_directory; "
            "print(handler_directory())",
        ],
        cwd=elsewhere,
    )
    assert done.returncode == 0, done.stderr
    found = Path(done.stdout.strip())
    assert found.is_relative_to(fresh.venv)
    assert [p.as_posix() for p in bundle_files(found)] == handler_files()
    done = fresh.run(["lmi", "local", "--demo"], cwd=elsewhere, timeout=60)
    assert done.returncode == 2
    assert "no model.py" not in done.stderr
    assert "pip install 'lmi-constructs[local]'" in done.stderr


def readme_app() -> str:
    """constructs/README.md's examples as one app: the team app, with the DeepSpeed endpoint the
    README shows after it added to the same stack before app.synth()."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) == 2 and blocks[0].rstrip().endswith("app.synth()"), blocks
    return blocks[0].rstrip().removesuffix("app.synth()") + blocks[1] + "app.synth()\n"


def test_the_readme_team_app_synthesizes_against_the_wheel(fresh, elsewhere):
    """The PyPI page's example, synthesized with the installed package (jsii and node, no CDK
    CLI); the DeepSpeed endpoint's model.tar.gz holds the repository's handler byte for byte,
    with serving.properties rendered from the endpoint's props."""
    (elsewhere / "app.py").write_text(readme_app())
    outdir = elsewhere / "cdk.out"
    env = {**fresh.env, "CDK_OUTDIR": str(outdir)}  # App() writes there when given no outdir
    done = subprocess.run(
        [str(fresh.python), "app.py"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    template = json.loads((outdir / "TeamLlm.template.json").read_text())
    resources = template["Resources"].values()
    assert {
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::IAM::Role",
    } <= {r["Type"] for r in resources}
    (model_data_url,) = [
        r["Properties"]["PrimaryContainer"]["ModelDataUrl"]
        for r in resources
        if r["Type"] == "AWS::SageMaker::Model"
        and "ModelDataUrl" in r["Properties"].get("PrimaryContainer", {})
    ]
    object_key = model_data_url["Fn::Sub"].rsplit("/", 1)[1]
    assets = json.loads((outdir / "TeamLlm.assets.json").read_text())["files"]
    (tarball,) = [
        outdir / asset["source"]["path"]
        for asset in assets.values()
        if any(d["objectKey"] == object_key for d in asset["destinations"].values())
    ]
    with tarfile.open(tarball) as bundle:
        members = {m.name: bundle.extractfile(m).read() for m in bundle.getmembers()}
    assert sorted(members) == handler_files()
    rendered = members.pop("serving.properties").decode()
    assert all(members[name] == (HANDLER / name).read_bytes() for name in members)
    assert "option.tensor_parallel_degree=4" in rendered
    assert "option.entryPoint=model.py" in rendered
