"""scripts/gpu_check.py --dry-run: every stage of the GPU check on the CPU with tiny shapes, through
the handler's Service and the serving properties LmiEndpoint renders. DeepSpeed is not importable
here: its stages run against a stand-in built from DeepSpeed 0.7.5's own source (OnDevice
exec'd, init_inference's signature), up to the GPU-only call, and say what they skipped. The
figures of the dry run's comparison compare nothing; the tests check their arithmetic and that
each check can fail."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

import gpu_check  # noqa: E402
import gpu_check_bench  # noqa: E402
import gpu_check_stages  # noqa: E402
from gpu_check_common import Mode  # noqa: E402

DRY = Mode(dry_run=True)
DEEPSPEED_STAGES = ("bloom-fp16", "opt-fp16", "bloom-int8", "bench-deepspeed")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """The whole dry run once, in this process (its default), as a user would start it."""
    out = tmp_path_factory.mktemp("gpu-check")
    code = gpu_check.main(["--dry-run", "--out", str(out)])
    return code, json.loads((out / "gpu_check.json").read_text())


def test_every_stage_runs_and_passes_on_the_cpu(dry_run):
    code, results = dry_run
    assert list(results) == list(gpu_check.STAGES) + ["comparison"]
    failed = {name: r.get("error") for name, r in results.items() if not r["ok"]}
    assert failed == {} and code == 0
    assert all(results[name]["dry_run"] for name in gpu_check.STAGES)


def test_deepspeed_stages_name_what_they_skipped(dry_run):
    _, results = dry_run
    for name in DEEPSPEED_STAGES:
        skipped = results[name]["skipped"]
        assert any(s.startswith("deepspeed.init_inference") for s in skipped), name
        assert any(s.startswith("the handler's input device cuda:0") for s in skipped), name
    assert any("JIT build" in s for s in results["environment"]["skipped"])
    assert any("int8 shards" in s for s in results["bloom-int8"]["skipped"])
    assert results["environment"]["deepspeed"].startswith("0.7.5 (source stand-in")
    assert results["environment"]["init_inference_accepts_max_tokens"] is True


def test_init_inference_gets_the_handlers_arguments(dry_run):
    _, results = dry_run
    for name in ("bloom-fp16", "opt-fp16"):
        assert results[name]["init_inference"] == [
            {
                "mp_size": 1,
                "dtype": "torch.float16",
                "replace_with_kernel_inject": True,
                "max_tokens": 64,  # the rendered option.max_total_tokens
            }
        ]
    int8 = results["bloom-int8"]
    (arguments,) = int8["init_inference"]
    assert arguments["dtype"] == "torch.int8" and arguments["max_tokens"] == 64
    assert arguments["checkpoint"].endswith("/ds_inference_config.json")
    assert arguments["base_dir"] == str(Path(arguments["checkpoint"]).parent)
    assert int8["meta_model"] == ["meta torch.float16"]  # built in fp16, int8 only to DeepSpeed
    defect = results["int8-meta-defect"]
    assert defect["int8_meta_builds"] is False
    assert "Only Tensors of floating point" in defect["error"]


@pytest.mark.parametrize(
    "path", [("bloom-fp16",), ("opt-fp16",), ("accelerate", "bloom"), ("accelerate", "opt")]
)
def test_refusals_are_400_and_generate_nothing(dry_run, path):
    _, results = dry_run
    stage = results[path[0]] if len(path) == 1 else results[path[0]][path[1]]
    assert stage["fills_budget"]["status"] == 200 and stage["fills_budget"]["tokens"] == "40 + 24"
    assert [row["details"]["generated_tokens"] for row in stage["fills_budget"]["body"]] == [24]
    over = stage["over_budget"]
    assert (over["status"], over["generate_calls"]) == (400, 0)
    assert "option.max_total_tokens (64)" in over["body"]["error"]
    too_long = stage["over_input_limit"]
    assert (too_long["status"], too_long["generate_calls"]) == (400, 0)
    assert "option.max_input_tokens (48)" in too_long["body"]["error"]


def test_accelerate_loads_as_accelerate_endpoints_do(dry_run):
    _, results = dry_run
    stage = results["accelerate"]
    for architecture in ("bloom", "opt"):
        served = stage[architecture]
        assert served["engine_property"] == "Python" and served["backend"] == "accelerate"
        assert served["dtype"] == "torch.float16" and served["parameters_on"] == ["cpu"]
        assert served["rows_equal_to_plain_transformers"] == "2/2"
    # nothing DeepSpeed was involved; only the device the handler names was put on cpu
    assert stage["skipped"] == ["the handler's input device cuda:0: cpu, where the model is"]


def test_comparison_has_the_write_ups_figures(dry_run):
    _, results = dry_run
    shape = gpu_check_bench.DRY_RUN_SHAPE
    compared = results["comparison"]
    assert [(r["batch"], r["engine"]) for r in compared["rows"]] == [
        (1, "deepspeed"),
        (1, "accelerate"),
        (4, "deepspeed"),
        (4, "accelerate"),
    ]
    by_key = {(r["engine"], r["batch"]): r for r in compared["rows"]}
    for (_, batch), row in by_key.items():
        assert row["timed_requests"] == shape.timed == len(row["latencies_ms"])
        assert (row["input_tokens"], row["new_tokens"]) == (shape.input_tokens, shape.new_tokens)
        assert min(row["latencies_ms"]) <= row["p50_ms"] <= row["p90_ms"]
        assert row["p90_ms"] <= max(row["latencies_ms"])
        assert row["ms_per_token"] == pytest.approx(row["p50_ms"] / shape.new_tokens, abs=0.01)
        expected = batch * shape.new_tokens / (row["p50_ms"] / 1000)
        assert row["tokens_per_s"] == pytest.approx(expected, rel=0.01)
    for batch in shape.batches:
        deepspeed, accelerate = by_key[("deepspeed", batch)], by_key[("accelerate", batch)]
        ratio = accelerate["p50_ms"] / deepspeed["p50_ms"]
        assert deepspeed["speedup"] == pytest.approx(ratio, abs=0.01)
        # without kernel injection both ran the same model: the same text, and text it is (the
        # head's rows the demo tokenizer cannot decode are zeroed)
        assert deepspeed["same_first_text_as_accelerate"] is True
        assert deepspeed["first_text_sha256"] != hashlib.sha256(b"").hexdigest()[:16]
    assert "dry run" in compared["note"] and "compare nothing" in compared["note"]
    model = results["bench-model"]
    assert model["shape"]["vocabulary"] == 50272 and model["safetensors_bytes"] > 0


def test_the_table_shows_each_row(dry_run):
    _, results = dry_run
    lines = gpu_check_bench.table(results["comparison"]).splitlines()
    assert lines[0].startswith("| engine | batch | in | out | load s | n | P50 ms | P90 ms |")
    assert len([line for line in lines if line.startswith("| deepspeed |")]) == 2
    assert len([line for line in lines if line.startswith("| accelerate |")]) == 2


def test_the_gpu_shape_is_opt_1_3b():
    shape = gpu_check_bench.GPU_SHAPE
    assert (shape.hidden, shape.layers, shape.heads, shape.ffn) == (2048, 24, 32, 8192)
    assert (shape.vocabulary, shape.positions, shape.batches) == (50272, 2048, (1, 4))
    assert 1.25e9 < shape.parameters < 1.4e9


def test_percentiles_interpolate_between_ranks():
    assert gpu_check_bench.percentile([5, 1, 4, 2, 3], 0.9) == pytest.approx(4.6)
    assert gpu_check_bench.percentile([7.0], 0.9) == 7.0
    figures = gpu_check_bench.figures([1000.0, 3000.0, 2000.0], batch=4, new_tokens=256)
    assert figures == {
        "p50_ms": 2000.0,
        "p90_ms": 2800.0,
        "ms_per_token": 7.81,
        "tokens_per_s": 512.0,
    }


def test_a_handler_that_ignores_the_budget_fails_the_accelerate_stage(tmp_path, monkeypatch):
    import lmi_handler.generation as generation

    monkeypatch.setattr(generation, "check_token_budget", lambda *args: None)
    result = gpu_check_stages.stage_accelerate(tmp_path, DRY)
    assert result["ok"] is False
    assert result["opt"]["over_budget"]["status"] == 200
    assert result["opt"]["over_budget"]["generate_calls"] == 1


def test_a_handler_that_drops_max_tokens_fails_the_deepspeed_stage(tmp_path, monkeypatch):
    import lmi_handler.loading as loading

    real = loading.deepspeed_arguments

    def without_max_tokens(*args, **kwargs):
        arguments = real(*args, **kwargs)
        arguments.pop("max_tokens")
        return arguments

    monkeypatch.setattr(loading, "deepspeed_arguments", without_max_tokens)
    result = gpu_check_stages.stage_opt_fp16(tmp_path, DRY)
    assert result["over_budget"]["status"] == 400  # the requests still pass...
    assert result["ok"] is False  # ...but the kernels' workspace would not hold the budget


def test_the_benchmark_needs_its_model_first(tmp_path):
    result = gpu_check_bench.stage_bench_accelerate(tmp_path / "bench-accelerate", DRY)
    assert result == {
        "ok": False,
        "error": f"no model in {tmp_path / 'bench-model' / 'model'}: "
        "the bench-model stage runs first",
    }


def test_a_stage_in_its_own_process(tmp_path):
    """The GPU's way: a child process per stage, one result line each, gathered by the parent."""
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "gpu_check.py"), "--dry-run", "--processes", "separate"]
        + ["--stages", "int8-meta-defect", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    assert list(results) == ["int8-meta-defect"]
    assert results["int8-meta-defect"]["int8_meta_builds"] is False
    assert '"passed": true' in done.stdout.splitlines()[-1]


def test_an_unknown_stage_is_refused_with_the_choices():
    with pytest.raises(SystemExit, match="unknown stage.*bench-deepspeed"):
        gpu_check.main(["--dry-run", "--stages", "environment,benchmark"])


def test_without_cuda_the_gpu_run_says_to_use_the_dry_run(capsys, monkeypatch):
    for key in gpu_check.DEEPSPEED_ENV:
        monkeypatch.delenv(key, raising=False)
    assert gpu_check.main(["--stages", "environment"]) == 1
    assert "no CUDA device: use --dry-run" in capsys.readouterr().out
    # nothing of DeepSpeed's process group is left in the environment of the tests that follow
    assert not set(gpu_check.DEEPSPEED_ENV) & set(os.environ)
