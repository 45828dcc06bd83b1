"""`lmi local`: run the DJL Serving handler (the one shipped in this package, the repository's
model_code/, or --model-code DIR) on this machine behind the container's HTTP contract (GET /ping,
POST /invocations), through the same warm-up and request path as on SageMaker, on the CPU.

Weights: a local directory, an s3:// prefix (downloaded by the handler's own download path, so
AWS_ENDPOINT_URL works), or --demo: a tiny random-weight model built in a temporary directory.

--engine vllm answers as an Engine.VLLM endpoint does instead: LMI's vLLM async service (LMI v17
and later): TGI-style `inputs`, OpenAI chat `messages` and completions `prompt`, streamed with
"stream": true, emulated with transformers on the CPU (not vLLM itself: one generation at a time;
--property max_model_len=N caps prompt + answer). It needs a local directory or --demo.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

from ..container.handler_files import handler_directory
from ..runtime.copier.layout import split_s3_uri

# What both engines import to generate on the CPU (pyproject's [local] extra).
LOCAL_EXTRA_MODULES = ("torch", "transformers", "tokenizers")


def register(commands) -> None:
    parser = commands.add_parser(
        "local",
        help="serve the DJL Serving handler on 127.0.0.1 (CPU)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model-code",
        type=Path,
        help="the handler directory (default: the handler shipped in this package, which is "
        "the repository's model_code/)",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--weights", help="a local directory or s3://bucket/prefix/")
    source.add_argument(
        "--demo",
        choices=["bloom", "opt"],
        nargs="?",
        const="bloom",
        help="a tiny random-weight model (default bloom), no download",
    )
    parser.add_argument(
        "--engine",
        choices=["model_code", "vllm"],
        default="model_code",
        help="model_code: our handler (DEEPSPEED/ACCELERATE endpoints); vllm: "
        "LMI's vLLM async service: inputs, chat messages, completions, streaming (VLLM endpoints)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where s3:// weights are downloaded (default a temporary directory)",
    )
    parser.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a serving property, e.g. max_new_tokens_limit=256",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    problems, properties = [], {"backend": "cpu", "tensor_parallel_degree": "1"}
    if args.model_code is None:
        try:
            args.model_code = handler_directory()
        except FileNotFoundError as error:
            print(f"lmi local: {error}", file=sys.stderr)
            return 2
    missing = [name for name in LOCAL_EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        problems.append(
            f"needs {', '.join(missing)} (the [local] extra): pip install 'lmi-constructs[local]'"
        )
    if args.engine == "model_code" and not (args.model_code / "model.py").exists():
        problems.append(f"--model-code {args.model_code}: no model.py there")
    s3_weights = split_s3_uri(args.weights) if args.weights else None
    if args.engine == "vllm" and s3_weights:
        problems.append(
            f"--weights {args.weights}: --engine vllm reads a local directory "
            "(as SageMaker's S3Prefix copy gives it /opt/ml/model); download first"
        )
    known = _handler_properties(args.model_code) if args.engine == "model_code" else None
    for item in args.property:
        if "=" not in item:
            problems.append(f"--property {item!r} is not KEY=VALUE")
            continue
        key, value = item.split("=", 1)
        key = key.removeprefix("option.")
        if known is not None and key not in known:
            # a key the handler does not read would be dropped silently: refuse it
            problems.append(
                f"--property {item!r}: the handler reads no {key!r}; it reads "
                + ", ".join(sorted(known))
            )
        properties[key] = value
    temporary = tempfile.TemporaryDirectory(prefix="lmi-local-")
    if s3_weights:
        os.environ.update(MODEL_S3_BUCKET=s3_weights[0], MODEL_S3_PREFIX=s3_weights[1])
        properties["weights_dir"] = str(args.cache_dir or Path(temporary.name) / "weights")
    elif args.weights:
        if not Path(args.weights).is_dir():
            problems.append(f"--weights {args.weights}: not a directory or s3:// URI")
        properties["weights_dir"] = str(Path(args.weights).resolve())
    if problems:
        for problem in problems:
            print(f"lmi local: {problem}", file=sys.stderr)
        return 2
    started = time.monotonic()
    if args.demo:
        from ..local.demo_model import build

        properties["weights_dir"] = str(build(Path(temporary.name) / "demo", args.demo))
        print(
            f"built a tiny random {args.demo} model in {properties['weights_dir']}", file=sys.stderr
        )
    from ..local.server import LOOPBACK, LocalEndpoint

    if args.host not in LOOPBACK:
        print(
            f"lmi local: warning: listening on {args.host}, beyond this machine: anyone who "
            "reaches it can run generations (there is no authentication); use 127.0.0.1 "
            "unless you mean it",
            file=sys.stderr,
        )
    try:
        endpoint = LocalEndpoint(
            args.model_code if args.engine == "model_code" else None,
            properties,
            args.host,
            args.port,
            engine=args.engine,
        ).start()
    except OSError as error:
        print(f"lmi local: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 2
    served = args.model_code if args.engine == "model_code" else "LMI's vLLM async service"
    print(
        f"serving {served} on {endpoint.url} (GET /ping answers 503 until loaded)", file=sys.stderr
    )
    try:
        if endpoint.wait_until_ready(timeout_s=3600) != "ready":
            print(f"lmi local: loading failed: {endpoint.error}", file=sys.stderr)
            return 1
        print(
            f"ready in {time.monotonic() - started:.1f} s; try:\n  curl -s {endpoint.url}"
            '/invocations -H \'Content-Type: application/json\' -d \'{"inputs": "Hello", '
            '"parameters": {"max_new_tokens": 16}}\'',
            file=sys.stderr,
        )
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        endpoint.stop()
        temporary.cleanup()


def _handler_properties(model_code: Path) -> "frozenset[str] | None":
    """The properties the handler in model_code reads (lmi_handler.config.HANDLER_PROPERTIES),
    or None for a model.py without our handler package (nothing to check against)."""
    config = model_code / "lmi_handler" / "config.py"
    if not config.is_file():
        return None
    import ast

    for node in ast.walk(ast.parse(config.read_text())):
        if (
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", None) == "HANDLER_PROPERTIES" for t in node.targets)
            and isinstance(node.value, ast.Tuple)
        ):
            return frozenset(
                e.value
                for e in node.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            )
    return None
