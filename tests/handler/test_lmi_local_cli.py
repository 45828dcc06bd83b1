"""`lmi local` as a user runs it: a process serving --demo on a port, and its argument checks."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request

from lmi_constructs.cli.main import main
from tests.support.s3_server import free_port

from .conftest import MODEL_CODE, call


class _Url:
    def __init__(self, url):
        self.url = url


def wait_until_healthy(endpoint, timeout_s=120):
    """Poll /ping until the server answers 200 (it loads the model first)."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if call(endpoint, None, method="GET", path="/ping")[0] == 200:
                return
        except urllib.error.URLError:
            pass
        time.sleep(0.3)


def test_lmi_local_demo_serves_the_request_path(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmi_constructs.cli",
            "local",
            "--model-code",
            str(MODEL_CODE),
            "--demo",
            "--port",
            str(port),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    endpoint = _Url(f"http://127.0.0.1:{port}")
    try:
        wait_until_healthy(endpoint)
        status, body = call(
            endpoint, {"inputs": "Hello", "parameters": {"max_new_tokens": 5, "details": True}}
        )
        assert status == 200 and body[0]["details"]["generated_tokens"] <= 5
    finally:
        process.terminate()
        process.wait(30)


def test_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["local", "--model-code", str(tmp_path), "--demo"]) == 2
    assert "no model.py there" in capsys.readouterr().err
    assert (
        main(
            [
                "local",
                "--model-code",
                str(MODEL_CODE),
                "--weights",
                str(tmp_path / "x"),
                "--property",
                "oops",
            ]
        )
        == 2
    )
    error = capsys.readouterr().err
    assert "not a directory or s3:// URI" in error and "'oops' is not KEY=VALUE" in error


def _custom_code_model(directory):
    """A tiny OPT whose config.json names its own classes (auto_map), as custom-code
    repositories do: transformers loads them only with trust_remote_code."""
    import json

    from lmi_constructs.local.demo_model import build

    build(directory, "opt")
    config = json.loads((directory / "config.json").read_text())
    config["model_type"] = "tiny_opt"
    config["architectures"] = ["TinyOPTForCausalLM"]
    config["auto_map"] = {
        "AutoConfig": "configuration_tiny.TinyOPTConfig",
        "AutoModelForCausalLM": "modeling_tiny.TinyOPTForCausalLM",
    }
    (directory / "config.json").write_text(json.dumps(config))
    (directory / "configuration_tiny.py").write_text(
        "from transformers import OPTConfig\n\n\n"
        "class TinyOPTConfig(OPTConfig):\n    model_type = 'tiny_opt'\n"
    )
    (directory / "modeling_tiny.py").write_text(
        "from transformers import OPTForCausalLM\n\n"
        "from .configuration_tiny import TinyOPTConfig\n\n\n"
        "class TinyOPTForCausalLM(OPTForCausalLM):\n    config_class = TinyOPTConfig\n"
    )


def _serve(weights, port, *properties, env):
    return subprocess.Popen(
        [sys.executable, "-m", "lmi_constructs.cli", "local", "--model-code", str(MODEL_CODE)]
        + ["--weights", str(weights), "--port", str(port)]
        + [arg for p in properties for arg in ("--property", p)],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_custom_code_is_served_only_with_the_opt_in(tmp_path):
    import os

    weights = tmp_path / "custom"
    _custom_code_model(weights)
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    # without it the handler refuses to load: transformers will not run the repository's code
    refused = _serve(weights, free_port(), env=env)
    try:
        _, err = refused.communicate(timeout=120)
    finally:
        refused.kill()
    assert refused.returncode != 0 and "trust_remote_code" in err
    port = free_port()
    process = _serve(weights, port, "trust_remote_code=true", env=env)
    endpoint = _Url(f"http://127.0.0.1:{port}")
    try:
        wait_until_healthy(endpoint)
        status, body = call(endpoint, {"inputs": "Hello", "parameters": {"max_new_tokens": 3}})
        assert status == 200 and isinstance(body[0]["generated_text"], str)
    finally:
        process.terminate()
        process.wait(30)


def test_a_property_the_handler_does_not_read_is_refused(capsys):
    assert main(["local", "--model-code", str(MODEL_CODE), "--demo", "--property", "trust=1"]) == 2
    assert "the handler reads no 'trust'" in capsys.readouterr().err
