"""The public API is typed for a team's app: mypy sees every construct's props (py.typed, and the
package's TYPE_CHECKING imports behind its lazy names), so a misspelt prop fails the type gate."""

import subprocess
import sys
from pathlib import Path

import pytest

import lmi_constructs

ROOT = Path(__file__).resolve().parents[2]

APP = """
from aws_cdk import App, Stack

from lmi_constructs import Engine, LmiEndpoint, LmiInferenceEndpoint, ModelSource

app = App()
stack = Stack(app, "Team")
LmiEndpoint(
    stack,
    "Endpoint",
    {instance_type}="ml.g6e.12xlarge",
    engine=Engine.VLLM,
    model=ModelSource.from_s3_uri("s3://team-weights/m/", model_id="org/m"),
)
LmiInferenceEndpoint(stack, "Shared", instance_type="ml.g6e.12xlarge")
"""

# Options of the other hosting shape: an endpoint of components scales copies, not the variant,
# and rolls each component, not the endpoint, so mypy refuses both.
WRONG_SHAPE_APP = """
from aws_cdk import App, Stack

from lmi_constructs import AutoScaling, BlueGreenRollout, LmiInferenceEndpoint, ModelSource

stack = Stack(App(), "Team")
shared = LmiInferenceEndpoint(
    stack, "Shared", instance_type="ml.g6e.12xlarge", autoscaling=AutoScaling()
)
shared.add_model(
    "M",
    model=ModelSource.from_s3_uri("s3://team-weights/m/", model_id="org/m"),
    accelerators=1,
    memory_mb=16384,
    rollout=BlueGreenRollout(),
)
"""


@pytest.fixture(scope="module")
def mypy_result(tmp_path_factory):
    """One mypy run over the app spelt wrong and right. From the repository root with its
    mypy.ini, so it reuses the cache `make test`'s own mypy run left (aws_cdk is large)."""
    folder = tmp_path_factory.mktemp("team_apps")
    (folder / "misspelt_app.py").write_text(APP.format(instance_type="instance_typ"))
    (folder / "correct_app.py").write_text(APP.format(instance_type="instance_type"))
    (folder / "wrong_shape_app.py").write_text(WRONG_SHAPE_APP)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            str(folder / "misspelt_app.py"),
            str(folder / "correct_app.py"),
            str(folder / "wrong_shape_app.py"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def errors_in(output: str, app: str):
    return [line for line in output.splitlines() if app in line and ": error:" in line]


def test_a_misspelt_prop_fails_mypy_and_the_same_app_spelt_right_passes(mypy_result):
    output = mypy_result.stdout + mypy_result.stderr
    assert mypy_result.returncode == 1, output
    errors = errors_in(output, "misspelt_app.py:")
    assert len(errors) == 1, output
    assert 'Unexpected keyword argument "instance_typ" for "LmiEndpoint"' in errors[0]
    assert "correct_app.py:" not in output


def test_an_option_of_the_other_hosting_shape_fails_mypy(mypy_result):
    output = mypy_result.stdout + mypy_result.stderr
    errors = errors_in(output, "wrong_shape_app.py:")
    assert len(errors) == 2, output
    assert 'Unexpected keyword argument "autoscaling" for "LmiInferenceEndpoint"' in errors[0]
    assert (
        'Argument "rollout" to "add_model" of "LmiInferenceEndpoint" has incompatible type '
        '"BlueGreenRollout"; expected "ComponentRollout | None"'
    ) in errors[1]


@pytest.mark.parametrize("name", lmi_constructs.__all__)
def test_every_public_name_resolves(name):
    assert getattr(lmi_constructs, name).__name__ == name
