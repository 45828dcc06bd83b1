"""The SageMaker container contract on 127.0.0.1, around an unchanged model_code/model.py.

GET /ping: 503 while the warm-up call loads the model, 200 once ready, 500 if loading failed.
POST /invocations: the body goes to model.handle as a djl_python Input, the Output comes back with
its status code. Requests run one at a time, as in one DJL Python worker. With engine="vllm" the
body goes instead to LmiAsyncService, LMI's vLLM async service emulated on the CPU (the TGI-style
`inputs` schema, OpenAI chat `messages` and completions `prompt`), whose streamed answers are sent
as they are generated (chunked transfer encoding), as SageMaker passes them on.

GET /ping also names what it serves in the headers X-Lmi-Local-Engine ("VLLM" or "model_code")
and X-Lmi-Local-Model, so `lmi invoke` and `lmi bench` pointed at it by --url pick the request
shape the engine takes. A real container sends neither.

It trusts no client: a body over SageMaker's 6 MB real-time payload limit, or with a missing or
negative Content-Length, is refused (413/411/400) before it is read; a connection idle for
IDLE_TIMEOUT_S is closed; a Host header naming another host than the ones it listens as is
refused (421), so a web page cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Optional

from ..spec.serving import parse_properties
from . import djl_shim

log = logging.getLogger(__name__)
_module_ids = itertools.count()
MAX_BODY_BYTES = 6 * 1024 * 1024  # SageMaker InvokeEndpoint: 6 MB payload
IDLE_TIMEOUT_S = 60
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ENGINE_HEADER, MODEL_HEADER = "X-Lmi-Local-Engine", "X-Lmi-Local-Model"


def read_serving_properties(model_code: Path) -> Dict[str, str]:
    """serving.properties as DJL hands it to the handler: option.x -> x, other keys as they are."""
    path = model_code / "serving.properties"
    if not path.exists():
        return {}
    return {key.removeprefix("option."): value for key, value in parse_properties(path.read_text())}


class LocalEndpoint:
    def __init__(
        self,
        model_code: Optional[Path],
        properties: Dict[str, str],
        host: str = "127.0.0.1",
        port: int = 8080,
        engine: str = "model_code",
    ):
        self.engine = engine
        self.model_code = Path(model_code).resolve() if model_code else None
        self.properties = {
            **(read_serving_properties(self.model_code) if self.model_code else {}),
            **properties,
            "model_dir": str(self.model_code),
        }
        self.state = "loading"
        self.error: Optional[str] = None
        self._request_lock = threading.Lock()
        self._module: Any = None  # model.py's module, or the LmiAsyncService
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.port = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}"
        # Names a browser may use for this server: loopback, or the address it was bound to.
        self.hosts = {f"{name}:{self.port}" for name in (*LOOPBACK, "[::1]", host)}

    def start(self) -> "LocalEndpoint":
        threading.Thread(target=self._server.serve_forever, args=(0.1,), daemon=True).start()
        threading.Thread(target=self._warm_up, daemon=True).start()
        return self

    def description_headers(self) -> Dict[str, str]:
        weights = self.properties.get("weights_dir")
        return {
            ENGINE_HEADER: "VLLM" if self.engine == "vllm" else "model_code",
            MODEL_HEADER: Path(weights).name if weights else "n/a",
        }

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_until_ready(self, timeout_s: float = 300) -> str:
        deadline = time.monotonic() + timeout_s
        while self.state == "loading" and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.state

    def _warm_up(self) -> None:
        try:
            if self.engine == "vllm":
                from .lmi_async import LmiAsyncService

                self._module = LmiAsyncService(
                    Path(self.properties["weights_dir"]), self.properties
                )
                self.state = "ready"
                return
            djl_shim.install()
            assert self.model_code is not None, "engine model_code needs the directory"
            if str(self.model_code) not in sys.path:
                sys.path.insert(0, str(self.model_code))  # as DJL does: model.py imports siblings
            spec = importlib.util.spec_from_file_location(
                f"lmi_local_model_{next(_module_ids)}", self.model_code / "model.py"
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            from djl_python import Input

            module.handle(Input(self.properties))  # the empty warm-up call
            self._module, self.state = module, "ready"
        except Exception as error:  # shown by /ping and on the console
            log.exception("loading failed")
            self.error, self.state = f"{type(error).__name__}: {error}", "failed"

    def invoke(self, body: bytes, content_type: str):
        """(status, bytes or an iterator of bytes, content type), one request at a time."""
        if self.engine == "vllm":
            with self._request_lock:
                status, payload, answer_type = self._module.invoke(body, content_type)
            if not isinstance(payload, bytes):
                payload = self._one_at_a_time(payload)  # generated while it is read
            return status, payload, answer_type
        from djl_python import Input

        with self._request_lock:
            output = self._module.handle(Input({"Content-Type": content_type}, body))
        payload = output.body() if hasattr(output, "body") else b"".join(output.content)
        return getattr(output, "code", 200), payload, "application/json"

    def _one_at_a_time(self, chunks):
        with self._request_lock:
            yield from chunks


def _handler_for(endpoint: LocalEndpoint):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = IDLE_TIMEOUT_S  # socket timeout: an idle or slow client does not hold a thread

        def log_message(self, format, *args):
            log.info("%s %s", self.address_string(), format % args)

        def _foreign_host(self) -> bool:
            if self.headers.get("Host", "") in endpoint.hosts:
                return False
            self.close_connection = True
            self._reply(
                421,
                {
                    "error": f"Host {self.headers.get('Host', '')!r} is not this "
                    f"server (it answers as 127.0.0.1:{endpoint.port})"
                },
            )
            return True

        def do_GET(self):
            if self._foreign_host():
                return
            if self.path != "/ping":
                return self._reply(404, {"error": "GET /ping or POST /invocations"})
            if endpoint.state == "ready":
                return self._reply(200, {"status": "Healthy"}, endpoint.description_headers())
            if endpoint.state == "failed":
                return self._reply(500, {"status": "Failed", "error": endpoint.error})
            self._reply(503, {"status": "Loading"})

        def do_POST(self):
            if self._foreign_host():
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True  # the body cannot be skipped: drop the connection
                return self._reply(
                    411 if length is None else 400,
                    {"error": f"Content-Length {length!r}: send the body's length in bytes"},
                )
            if int(length) > MAX_BODY_BYTES:
                self.close_connection = True
                return self._reply(
                    413,
                    {
                        "error": f"a body of {length} bytes is over the "
                        f"{MAX_BODY_BYTES} bytes SageMaker accepts"
                    },
                )
            body = self.rfile.read(int(length))
            if self.path != "/invocations":
                return self._reply(404, {"error": "GET /ping or POST /invocations"})
            if endpoint.state != "ready":
                return self._reply(
                    503,
                    {"error": f"model is {endpoint.state}: {endpoint.error or 'poll GET /ping'}"},
                )
            try:
                status, payload, answer_type = endpoint.invoke(
                    body, self.headers.get("Content-Type", "application/json")
                )
            except Exception as error:  # the handler raised instead of answering
                log.exception("handler raised")
                return self._reply(500, {"error": f"{type(error).__name__}: {error}"})
            if isinstance(payload, bytes):
                return self._send(status, payload, answer_type)
            self._send_chunks(status, payload, answer_type)

        def _reply(self, status: int, value, headers: Optional[Dict[str, str]] = None) -> None:
            self._send(status, json.dumps(value).encode(), headers=headers)

        def _send(
            self,
            status: int,
            payload: bytes,
            content_type: Optional[str] = None,
            headers: Optional[Dict[str, str]] = None,
        ) -> None:
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", content_type or "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _send_chunks(self, status: int, chunks, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for chunk in chunks:
                    self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):  # the client left mid-stream
                self.close_connection = True
            except Exception as error:  # the emulation failed after the 200: end as LMI does
                log.exception("generation failed mid-stream")
                # an output with a code after the first chunk: Request.java appends
                # {"error", "code"}; the status (200) is already sent
                line = json.dumps({"error": str(error), "code": 424}).encode()
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n0\r\n\r\n")
            finally:
                close = getattr(chunks, "close", None)
                if close:
                    close()  # releases the one-request-at-a-time lock

    return Handler
