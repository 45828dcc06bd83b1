"""`lmi plan`: exit 0 and a plan when valid, exit 2 and one line per problem otherwise."""

import json
import subprocess
import sys

from lmi_constructs.cli.main import main


def test_valid_plan_prints_the_facts(capsys):
    code = main(
        [
            "plan",
            "--model-id",
            "facebook/opt-30b",
            "--instance-type",
            "ml.g5.24xlarge",
            "--tp",
            "4",
            "--engine",
            "deepspeed",
            "--dtype",
            "fp16",
            "--max-input-tokens",
            "1152",
            "--max-new-tokens",
            "896",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "model         facebook/opt-30b" in out
    assert "facts         the built-in catalog" in out
    assert "13.97 GiB weights + ~1.17 GiB overhead per GPU of 22.35 GiB" in out
    assert "KV cache      7.21 GiB per GPU: 22515 tokens (344064 bytes each)" in out
    assert "local NVMe (VolumeSizeInGB not sent)" in out
    assert "up to 1152 input + 896 new tokens, 2048 in all, batch 8" in out
    assert "blue/green: quota for 2 x ml.g5.24xlarge during a change" in out


def test_a_token_budget_past_the_models_positions_is_refused(capsys):
    opt = ["plan", "--model-id", "facebook/opt-30b", "--instance-type", "ml.g5.24xlarge"]
    opt += ["--tp", "4", "--engine", "deepspeed"]
    assert main([*opt, "--max-total-tokens", "3072"]) == 2
    assert (
        "request_limits.max_total_tokens=3072: exceeds the 2048 positions of facebook/opt-30b"
        in capsys.readouterr().err
    )
    # both halves set, no total: the total is what the positions allow, with a warning
    assert main([*opt, "--max-input-tokens", "1536", "--max-new-tokens", "1024"]) == 0
    out = capsys.readouterr().out
    assert "max_total_tokens defaults to 2048, what the positions and the KV cache allow" in out


def test_no_limits_at_all_derives_ones_the_model_takes(capsys):
    # the 2022 default of 2048 + 1024 would exceed OPT's 2048 positions: never refused now
    opt = ["plan", "--model-id", "facebook/opt-30b", "--instance-type", "ml.g5.24xlarge"]
    assert main([*opt, "--engine", "deepspeed", "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["limits"]["max_total_tokens"] == 2048
    assert plan["dtype"] == "fp16" and plan["tensor_parallel_degree"] == 4


def test_invalid_plan_exits_2_with_one_line_per_problem(capsys):
    code = main(
        [
            "plan",
            "--model-id",
            "microsoft/bloom-deepspeed-inference-int8",
            "--instance-type",
            "ml.p4d.24xlarge",
            "--tp",
            "3",
            "--engine",
            "deepspeed",
            "--dtype",
            "int8",
            "--volume-size-gb",
            "100",
            "--startup-timeout",
            "30",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 4
    assert all(line.startswith("error: ") for line in err)
    assert any("volume_size_gb=100" in line for line in err)
    assert any("container_startup_health_check_timeout=30s" in line for line in err)


def test_json_output(capsys):
    assert (
        main(
            [
                "plan",
                "--instance-type",
                "ml.g5.12xlarge",
                "--tp",
                "4",
                "--engine",
                "vllm",
                "--no-model-code",
                "--model-id",
                "mistralai/Mistral-7B-Instruct-v0.3",
                "--json",
            ]
        )
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert plan["engine"] == "VLLM" and plan["tensor_parallel_degree"] == 4


def test_missing_required_flags(capsys):
    assert main(["plan", "--model-id", "facebook/opt-30b"]) == 2
    assert "--instance-type required (or --recommend" in capsys.readouterr().err


def test_console_module_runs_without_aws_cdk_import():
    # `lmi plan` must stay fast: the pure spec path never starts jsii's Node process.
    probe = (
        "import sys; from lmi_constructs.cli.main import main; "
        "main(['plan','--instance-type','ml.g5.24xlarge','--tp','4','--model-id','facebook/opt-30b',"
        "'--max-new-tokens','512','--max-input-tokens','1024']); "
        "print('aws_cdk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().endswith("False")


QWEN = [
    "plan",
    "--model-id",
    "Qwen/Qwen2.5-7B-Instruct",
    "--instance-type",
    "ml.g6e.2xlarge",
    "--tp",
    "1",
    "--engine",
    "vllm",
    "--dtype",
    "bf16",
    "--no-model-code",
    "--max-input-tokens",
    "4096",
    "--max-new-tokens",
    "512",
]


def test_fallback_pools_are_shown_in_priority_order(capsys):
    assert (
        main(
            [
                *QWEN,
                "--fallback-instance-type",
                "ml.g6e.4xlarge",
                "--fallback-instance-type",
                "ml.g5.2xlarge",
            ]
        )
        == 0
    )
    pools = [
        line.split(None, 1)[1]
        for line in capsys.readouterr().out.splitlines()
        if line.strip().startswith("pool ")
    ]
    assert pools == [
        "1: ml.g6e.2xlarge (1 x L40S)",
        "2: ml.g6e.4xlarge (1 x L40S)",
        "3: ml.g5.2xlarge (1 x A10G)",
    ]


def test_each_pool_is_checked_with_its_own_gpus(capsys):
    assert main([*QWEN, "--fallback-instance-type", "ml.g4dn.xlarge"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "error: pools[2:ml.g4dn.xlarge].dtype=bf16: needs an Ampere or newer GPU; "
        "ml.g4dn.xlarge has T4; fix: drop ml.g4dn.xlarge from the --fallback-instance-type flags",
        "error: pools[2:ml.g4dn.xlarge].tensor_parallel_degree=1: weights need 14.2 GiB per GPU "
        "(bf16, tp=1) plus ~1.9 GiB of overhead, but vLLM may use 13.5 GiB of the 15 GiB of each "
        "GPU of ml.g4dn.xlarge; fix: drop ml.g4dn.xlarge from the --fallback-instance-type flags",
    ]


def test_recommend_lists_the_instances_that_hold_the_model_and_its_context(capsys):
    argv = ["plan", "--model-id", "meta-llama/Llama-3.1-70B-Instruct", "--recommend", "--json"]
    assert main(argv) == 0
    fits = json.loads(capsys.readouterr().out)
    rows = {fit["instance_type"]: fit for fit in fits}
    # 70.6e9 bf16 parameters and one 131072-token sequence: 8 x 32 GiB (g7) at TP 8 is the
    # smallest; 8 x A10G (22.35 GiB) holds the weights at TP 8 but not the context
    assert fits[0]["instance_type"] == "ml.g7.48xlarge"
    assert fits[0]["tensor_parallel_degree"] == 8
    assert rows["ml.p4d.24xlarge"]["tensor_parallel_degree"] == 8
    assert "ml.g5.48xlarge" not in rows
    assert rows["ml.p5e.48xlarge"]["tensor_parallel_degree"] == 2
    assert all(fit["max_total_tokens"] == 131072 and fit["full_sequences"] >= 1 for fit in fits)
    # a shorter budget lets the A10Gs in
    assert main([*argv, "--max-total-tokens", "8192"]) == 0
    rows = {fit["instance_type"]: fit for fit in json.loads(capsys.readouterr().out)}
    assert rows["ml.g5.48xlarge"]["tensor_parallel_degree"] == 8


def test_a_model_without_facts_is_looked_up_live_or_refused_offline(capsys):
    argv = ["plan", "--model-id", "someone/unknown-13b", "--instance-type", "ml.g5.12xlarge"]
    assert main([*argv, "--offline"]) == 2
    assert "run `lmi lookup someone/unknown-13b`" in capsys.readouterr().err


def test_a_recorded_plan_of_a_model_of_unknown_size_prints(tmp_path, capsys):
    # plans recorded in a cloud assembly by older versions, or for a model of unknown size,
    # lack the memory figures: printed as unknown, not a KeyError
    plan = {"model": "someone/x", "engine": "VLLM", "instance_type": "ml.g5.2xlarge"}
    manifest = {"artifacts": {"S": {"metadata": {"/S/E": [{"type": "lmi:plan", "data": plan}]}}}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert main(["plan", "--cdk-out", str(tmp_path)]) == 0
    assert "memory        unknown: record the model's facts" in capsys.readouterr().out
