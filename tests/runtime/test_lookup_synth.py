"""`lmi lookup` then `cdk synth`: the record in cdk.context.json sizes a model outside the
catalog at synth, offline, and pins the Hub copy to the commit it was read at; without a record
synth fails and names the lookup to run."""

from __future__ import annotations

import argparse
import json

import pytest
from aws_cdk import App, Stack

from lmi_constructs import Engine, LmiEndpoint, ModelSource, SpecError
from lmi_constructs.cli import lookup
from tests.support import model_repos


def endpoint(app):
    stack = Stack(app, "Team")
    return stack, LmiEndpoint(
        stack,
        "Llama",
        model=ModelSource.from_hugging_face("org/llama"),
        instance_type="ml.g5.12xlarge",
        engine=Engine.VLLM,
    )


def test_a_recorded_lookup_sizes_the_synth_and_pins_the_commit(hf_env, tmp_path, monkeypatch):
    files, expected = model_repos.BUILDERS["llama"]()
    commit = hf_env.add_repo("org/llama", files)
    monkeypatch.setenv("HF_ENDPOINT", hf_env.endpoint)
    context_file = tmp_path / "cdk.context.json"
    context_file.write_text(json.dumps({"availability-zones:account=1:region=x": ["a"]}))
    parser = argparse.ArgumentParser(prog="lmi")
    lookup.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["lookup", "org/llama", "--context-file", str(context_file)])
    assert args.run(args) == 0

    # what the CDK CLI does with cdk.context.json: every key becomes app context
    hf_env.faults.api_errors = 10**6  # synth must not touch the Hub
    context = json.loads(context_file.read_text())
    assert "availability-zones:account=1:region=x" in context  # the other keys are kept
    stack, llama = endpoint(App(context=context))
    spec = llama.spec
    assert spec.model.weight_bytes == expected.weight_bytes
    # the smallest degree that holds the 131072 positions: 2 x A10G, KV heads split in two
    assert spec.tensor_parallel_degree == 2
    assert spec.memory.kv_bytes_per_token == 2 * 32 * 4 * 128 * 2
    assert spec.request_limits.total_tokens == 131072
    copy = next(
        resource
        for resource in App.of(stack)
        .synth()
        .get_stack_by_name("Team")
        .template["Resources"]
        .values()
        if "Revision" in resource.get("Properties", {})
    )
    assert copy["Properties"]["Revision"] == commit


def test_without_facts_synth_names_the_lookup_to_run():
    with pytest.raises(SpecError) as error:
        endpoint(App())
    assert error.value.fields == ["model_facts"]
    assert "run `lmi lookup org/llama`" in str(error.value)


def test_lmi_plan_reads_a_model_without_a_record_live(hf_env, capsys, tmp_path, monkeypatch):
    from lmi_constructs.cli.main import main

    files, _ = model_repos.BUILDERS["llama"]()
    hf_env.add_repo("org/llama", files)
    monkeypatch.chdir(tmp_path)  # no cdk.context.json here
    argv = ["plan", "--model-id", "org/llama", "--instance-type", "ml.g5.2xlarge"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert f"facts         read live from {hf_env.endpoint}/org/llama" in out
    assert "KV cache" in out and not (tmp_path / "cdk.context.json").exists()
    hf_env.faults.api_errors = 10
    assert main(argv) == 1  # the Hub refuses: a one-line reason, exit 1
    assert capsys.readouterr().err.startswith("lmi plan: ")
