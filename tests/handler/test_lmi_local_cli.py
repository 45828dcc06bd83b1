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
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if call(endpoint, None, method="GET", path="/ping")[0] == 200:
                    break
            except urllib.error.URLError:
                pass
            time.sleep(0.3)
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
