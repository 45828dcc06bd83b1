"""`lmi lookup MODEL_ID [--revision R]` or `lmi lookup s3://bucket/prefix/`: read what a model's
own files say about it (config.json, the weight files the engine loads, their sizes and the
dtypes their safetensors headers declare; never the weights) and record it in the app's
cdk.context.json, so that `cdk synth` sizes the endpoint from the record, offline and
deterministic, as CDK's own context providers record their lookups (VPCs, AMIs) there.

The record lands under one key per model and asked revision:

    lmi:model-facts:repo=<owner>/<name>:revision=<revision as asked, default main>
    lmi:model-facts:uri=s3://<bucket>/<prefix>/

and holds the commit the files were read at. A branch keeps its record until you look it up
again (or delete the key): synth never goes back to the Hub. `--print` prints the record's JSON
and writes nothing. The other keys of cdk.context.json are kept; the file is written sorted,
indented by 2, through a temporary file renamed over it.

The Hub is read with huggingface_hub and honours HF_ENDPOINT (a mirror or private hub) and
HF_TOKEN (gated or private repositories); S3 with boto3 and the usual AWS settings. Exit 0 on
success, 1 when the service refuses or does not answer (with its reason), 2 on invalid input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Any, Dict

from ..spec.model_facts import FactsRecord, ModelFacts, context_key
from .model_lookup import LookupFailed, parse_s3_uri, read_hub_record, read_s3_record

DEFAULT_CONTEXT_FILE = "cdk.context.json"
PROG = "lmi lookup"


def register(commands) -> None:
    parser = commands.add_parser(
        "lookup",
        help="record a model's facts (config, weights, dtypes) in cdk.context.json",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "model",
        metavar="MODEL_ID",
        help="a Hub repository (e.g. meta-llama/Llama-3.1-8B) or s3://bucket/prefix/",
    )
    parser.add_argument(
        "--revision", help="branch, tag or commit of a Hub repository (default main)"
    )
    parser.add_argument(
        "--context-file",
        default=DEFAULT_CONTEXT_FILE,
        help=f"the CDK context file to record in (default ./{DEFAULT_CONTEXT_FILE})",
    )
    parser.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="print the record's JSON instead of writing it",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="give up on a request that gets no answer within this (default 10)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    is_s3 = args.model.startswith("s3://")
    try:
        if is_s3:
            if args.revision is not None:
                raise ValueError("--revision applies to Hub repositories, not to an s3:// prefix")
            bucket, prefix = parse_s3_uri(args.model)
            model_id, revision = f"s3://{bucket}/{prefix}", None
            record = read_s3_record(model_id, timeout_s=args.timeout)
        else:
            model_id, revision = args.model, args.revision or "main"
            record = read_hub_record(model_id, revision, timeout_s=args.timeout)
    except ValueError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except LookupFailed as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 1
    value = record.to_json()
    try:
        facts = ModelFacts.from_record(value)
    except ValueError as error:
        print(
            f"{PROG}: {model_id}: the files were read but cannot be sized: {error}", file=sys.stderr
        )
        return 1
    if args.print_only:
        print(json.dumps(value, indent=2, sort_keys=True))
        return 0
    key = context_key(model_id, revision)
    try:
        write_context(args.context_file, key, value)
    except ValueError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"{PROG}: cannot write {args.context_file}: {error}", file=sys.stderr)
        return 1
    print(key)
    print(f"commit {record.revision}" if record.revision else f"read from {record.read_from}")
    print(summary(facts, record, args.context_file))
    return 0


def write_context(path: str, key: str, value: Any) -> None:
    """Set `key` in the JSON object at `path` (created when absent), keeping the other keys:
    sorted, indent 2, trailing newline, written to a temporary file then renamed over `path`.
    ValueError when the existing file is not a JSON object."""
    context: Dict[str, Any] = {}
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as handle:
                context = json.load(handle)
        except (UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"{path} is not JSON ({error}): fix it or move it away") from None
        if not isinstance(context, dict):
            raise ValueError(f"{path} holds a JSON {type(context).__name__}, not an object")
    context[key] = value
    text = json.dumps(context, indent=2, sort_keys=True) + "\n"
    folder = os.path.dirname(os.path.abspath(path))
    mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
    descriptor, temporary = tempfile.mkstemp(prefix=".cdk.context.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def summary(facts: ModelFacts, record: FactsRecord, context_file: str) -> str:
    """One paragraph: what the checks will size the model by."""

    def known(value: Any, text: str, unknown: str) -> str:
        return text.format(value) if value is not None else unknown

    parts = [
        facts.architecture or "architecture not named",
        known(facts.num_layers, "{} layers", "layers unknown"),
    ]
    if facts.num_attention_heads is not None:
        heads = f"{facts.num_attention_heads} attention heads"
        if facts.num_kv_heads is not None and facts.num_kv_heads != facts.num_attention_heads:
            heads += f" / {facts.num_kv_heads} KV heads"
        parts.append(heads + known(facts.head_dim, " (head dim {})", ""))
    else:
        parts.append("attention heads unknown")
    parts.append(known(facts.max_positions, "{} positions", "no position limit in config.json"))
    if facts.num_experts:
        parts.append(
            f"{facts.num_experts} experts" + known(facts.experts_per_token, " ({} per token)", "")
        )
    dtype = facts.dtype or "dtype not named"
    parts.append(f"{facts.quantization} weights ({dtype} compute)" if facts.quantization else dtype)
    if record.weight_bytes is not None:
        files = len(record.weight_files)
        parts.append(
            f"{record.weight_bytes / 1e9:.2f} GB of weights in {files} file{'s' * (files != 1)}"
        )
    else:
        parts.append("no weight files found")
    parts.append(
        "runs the repository's own code (config.json auto_map: trust_remote_code)"
        if facts.needs_remote_code
        else "no remote code"
    )
    if facts.gated:
        parts.append("gated (the copy needs HF_TOKEN)")
    return f"{facts.name}: {', '.join(parts)}. Recorded in {context_file}; synth reads it offline."
