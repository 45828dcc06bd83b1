"""Synthesize each app once per session: every jsii synth costs seconds."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cdk_json_context():
    """The feature flags `cdk synth` applies, so tests see the templates users deploy."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@pytest.fixture(scope="session")
def reference_assembly(tmp_path_factory):
    from app import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    # app.synth() runs the AwsSolutions pack: an unacknowledged finding fails it here.
    return build_app(outdir=str(outdir), context=cdk_json_context()).synth()


@pytest.fixture(scope="session")
def templates(reference_assembly):
    return {
        name: reference_assembly.get_stack_by_name(name).template
        for name in ("BloomStack", "OptStack")
    }


@pytest.fixture(scope="session")
def template_files(reference_assembly):
    return sorted(Path(reference_assembly.directory).glob("*.template.json"))


@pytest.fixture(scope="session")
def production(tmp_path_factory):
    """The every-option stack (production_app.py), synthesized once with cdk-nag."""
    from .production_app import build_production_stack

    return build_production_stack(str(tmp_path_factory.mktemp("production.out")))


@pytest.fixture(scope="session")
def all_templates(reference_assembly, production):
    """Every stack of the reference app (BLOOM, OPT, Qwen, the weights bucket) and Production."""
    stacks = {stack.stack_name: stack.template for stack in reference_assembly.stacks}
    return {**stacks, "Production": production.template}
