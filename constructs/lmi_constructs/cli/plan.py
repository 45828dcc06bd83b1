"""`lmi plan`: validate an endpoint offline and print what it would deploy.

From flags (the same EndpointSpec rules as the constructs), or from a synthesized cloud assembly
(`--cdk-out cdk.out`: the plans LmiEndpoint recorded in the manifest, as `make synth` prints them).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..spec import Capacity, EndpointSpec, RequestLimits, SpecError, format_plan
from ..spec.endpoint_spec import PLAN_METADATA_TYPE
from ..spec.engines import engine_from


def register(commands) -> None:
    parser = commands.add_parser(
        "plan", help="validate an endpoint and print its plan", description=__doc__
    )
    parser.add_argument(
        "--cdk-out",
        metavar="DIR",
        help="print the plans recorded in a synthesized cloud assembly instead",
    )
    parser.add_argument("--model-id", help="Hugging Face model id, e.g. facebook/opt-30b")
    parser.add_argument("--instance-type", help="e.g. ml.g5.24xlarge")
    parser.add_argument(
        "--tp", type=int, dest="tensor_parallel_degree", help="tensor parallel degree"
    )
    parser.add_argument("--engine", default="DEEPSPEED", help="DEEPSPEED, ACCELERATE or VLLM")
    parser.add_argument("--dtype", default="fp16", help="fp16, bf16, int8 or fp32")
    parser.add_argument("--instance-count", type=int, default=1)
    parser.add_argument("--volume-size-gb", type=int)
    parser.add_argument("--download-timeout", type=int, default=2400, metavar="SECONDS")
    parser.add_argument("--startup-timeout", type=int, default=2400, metavar="SECONDS")
    parser.add_argument("--kms-key", help="endpoint storage KMS key id or ARN")
    parser.add_argument("--image-tag", help="djl-inference tag; default: the engine's")
    parser.add_argument("--region", help="check the region has an LMI container")
    parser.add_argument("--num-parameters", type=float, help="for models outside the catalog")
    parser.add_argument("--num-heads", type=int, help="attention heads, for the TP check")
    parser.add_argument("--gpu-count", type=int, help="for instances outside the catalog")
    parser.add_argument("--gpu-memory-gib", type=float, help="usable GiB per GPU, ditto")
    defaults = RequestLimits()
    parser.add_argument("--max-input-tokens", type=int, default=defaults.max_input_tokens)
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=defaults.max_new_tokens,
        help="the time budget: what one request may generate",
    )
    parser.add_argument(
        "--max-total-tokens", type=int, help="the token budget (default input + new)"
    )
    parser.add_argument("--max-batch-size", type=int, default=defaults.max_batch_size)
    parser.add_argument(
        "--fallback-instance-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="a fallback instance pool, in priority order "
        "(repeat); each is checked like --instance-type",
    )
    parser.add_argument(
        "--no-model-code",
        action="store_true",
        help="the endpoint runs without custom model.py (VLLM)",
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.cdk_out:
        return _print_assembly_plans(Path(args.cdk_out), args.json)
    missing = [
        flag
        for flag, value in (
            ("--instance-type", args.instance_type),
            ("--tp", args.tensor_parallel_degree),
        )
        if value is None
    ]
    if missing:
        print(f"lmi plan: {' and '.join(missing)} required (or --cdk-out DIR)", file=sys.stderr)
        return 2
    capacity = Capacity(fallback_instance_types=tuple(args.fallback_instance_type))
    problems, first = capacity.violations(args.instance_type), []
    try:
        spec = _spec(args, args.instance_type)
    except SpecError as error:
        first = error.violations
    # each fallback pool with its own GPU count and memory
    problems += first + capacity.fallback_violations(
        lambda instance_type: _spec(args, instance_type),
        known={(v.field, v.problem) for v in first},
        option="the --fallback-instance-type flags",
    )
    if problems:
        for violation in problems:
            print(f"error: {violation}", file=sys.stderr)
        return 2
    plan = {**spec.plan(), "pools": capacity.plan_lines(args.instance_type)}
    print(json.dumps(plan, indent=2) if args.json else format_plan("plan (valid)", plan))
    return 0


def _spec(args: argparse.Namespace, instance_type: str) -> EndpointSpec:
    return EndpointSpec(
        model_id=args.model_id,
        instance_type=instance_type,
        tensor_parallel_degree=args.tensor_parallel_degree,
        engine=engine_from(args.engine),
        dtype=args.dtype,
        instance_count=args.instance_count,
        image_tag=args.image_tag,
        volume_size_gb=args.volume_size_gb,
        model_data_download_timeout_s=args.download_timeout,
        container_startup_health_check_timeout_s=args.startup_timeout,
        kms_key_id=args.kms_key,
        region=args.region,
        has_model_code=not args.no_model_code,
        num_parameters=args.num_parameters,
        num_attention_heads=args.num_heads,
        gpu_count=args.gpu_count,
        gpu_memory_gib=args.gpu_memory_gib,
        request_limits=RequestLimits(
            args.max_input_tokens, args.max_new_tokens, args.max_total_tokens, args.max_batch_size
        ),
    )


def _print_assembly_plans(cdk_out: Path, as_json: bool) -> int:
    manifest = cdk_out / "manifest.json"
    if not manifest.is_file():
        print(
            f"lmi plan: {manifest} not found; run `make synth` (cdk synth) first", file=sys.stderr
        )
        return 2
    plans = assembly_plans(json.loads(manifest.read_text()), cdk_out)
    if not plans:
        print(f"lmi plan: no LmiEndpoint plans in {manifest}", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(plans, indent=2))
    else:
        print("\n\n".join(format_plan(path, plan) for path, plan in plans.items()))
    return 0


def assembly_plans(manifest: dict, cdk_out: Path) -> dict:
    """{construct path: plan} for every LmiEndpoint in the assembly, in stack order."""
    plans = {}
    for artifact in manifest.get("artifacts", {}).values():
        metadata = dict(artifact.get("metadata") or {})
        if artifact.get("additionalMetadataFile"):  # newer CDK keeps stack metadata beside it
            metadata.update(json.loads((cdk_out / artifact["additionalMetadataFile"]).read_text()))
        for path, entries in metadata.items():
            for entry in entries:
                if entry.get("type") == PLAN_METADATA_TYPE:
                    plans[path.lstrip("/")] = entry["data"]
    return plans
