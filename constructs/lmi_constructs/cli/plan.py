"""`lmi plan`: validate an endpoint offline and print what it would deploy.

From flags (the same EndpointSpec rules as the constructs), or from a synthesized cloud assembly
(`--cdk-out cdk.out`: the plans LmiEndpoint recorded in the manifest, as `make synth` prints them).
The model's facts come from cdk.context.json (`lmi lookup`), the built-in catalog, or a live read
of the Hub (skipped with --offline). `--recommend` lists the instance types that hold the model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict

from ..spec import Capacity, EndpointSpec, RequestLimits, SpecError, format_plan
from ..spec.endpoint_spec import PLAN_METADATA_TYPE, across_pools
from ..spec.engines import engine_from
from ..spec.model_rules import default_total, positions_cap
from .facts_source import DEFAULT_CONTEXT_FILE, FactsUnavailable, facts_for


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
    parser.add_argument("--revision", help="the revision its facts were recorded at (main)")
    parser.add_argument("--instance-type", help="e.g. ml.g5.24xlarge")
    parser.add_argument(
        "--tp",
        type=int,
        dest="tensor_parallel_degree",
        help="tensor parallel degree (default: the smallest that holds the model)",
    )
    parser.add_argument("--engine", default="VLLM", help="VLLM (default), DEEPSPEED or ACCELERATE")
    parser.add_argument(
        "--dtype", help="fp16, bf16, int8 or fp32 (default: what the repository stores)"
    )
    parser.add_argument("--instance-count", type=int, default=1)
    parser.add_argument("--volume-size-gb", type=int)
    parser.add_argument("--download-timeout", type=int, default=2400, metavar="SECONDS")
    parser.add_argument("--startup-timeout", type=int, default=2400, metavar="SECONDS")
    parser.add_argument("--kms-key", help="endpoint storage KMS key id or ARN")
    parser.add_argument("--image-tag", help="djl-inference tag; default: the engine's")
    parser.add_argument("--region", help="check the region has an LMI container")
    parser.add_argument("--num-parameters", type=float, help="for models with no facts")
    parser.add_argument("--num-heads", type=int, help="attention heads, for the TP check")
    parser.add_argument("--gpu-count", type=int, help="for instances outside the catalog")
    parser.add_argument("--gpu-memory-gib", type=float, help="usable GiB per GPU, ditto")
    parser.add_argument("--max-input-tokens", type=int, help="default: derived")
    parser.add_argument(
        "--max-new-tokens", type=int, help="what one request may generate (default: derived)"
    )
    parser.add_argument(
        "--max-total-tokens",
        type=int,
        help="the token budget, vLLM's max_model_len (default: the model's positions for "
        "vLLM, 3072 for the handler engines, within what the memory holds)",
    )
    parser.add_argument(
        "--max-batch-size", type=int, help="default: 256 sequences (vLLM), 8 prompts (handler)"
    )
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
        help="no custom model.py (implied for VLLM)",
    )
    parser.add_argument(
        "--recommend",
        action="store_true",
        help="list the instance types and degrees that hold the model and the token budget",
    )
    parser.add_argument(
        "--context-file",
        default=DEFAULT_CONTEXT_FILE,
        metavar="FILE",
        help="where lmi lookup recorded the facts (default ./cdk.context.json)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="never read the Hub; use recorded facts only"
    )
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.cdk_out:
        return _print_assembly_plans(Path(args.cdk_out), args.json)
    try:
        settings = _settings(args)
    except SpecError as error:
        return _refuse(error.violations)
    except FactsUnavailable as error:
        print(f"lmi plan: {error}", file=sys.stderr)
        return 1
    if args.recommend:
        return _recommend(args, settings)
    if args.instance_type is None:
        print(
            "lmi plan: --instance-type required (or --recommend, or --cdk-out DIR)", file=sys.stderr
        )
        return 2
    capacity = Capacity(fallback_instance_types=tuple(args.fallback_instance_type))
    problems, first = capacity.violations(args.instance_type), []
    spec = None
    try:
        spec = across_pools(
            EndpointSpec(**settings, instance_type=args.instance_type),
            capacity.fallback_instance_types,
        )
    except SpecError as error:
        first = error.violations
    # each fallback pool with its own GPU count and memory, running the first pool's settings
    problems += first + capacity.fallback_violations(
        spec.on_instance
        if spec is not None
        else (lambda instance_type: EndpointSpec(**settings, instance_type=instance_type)),
        known={(v.field, v.problem) for v in first},
        option="the --fallback-instance-type flags",
    )
    if spec is not None:  # the host AMI the image needs on every pool
        capacity, drivers, driver_warnings = capacity.for_image(
            spec.resolved_image_tag, args.instance_type
        )
        problems += drivers
        spec.warnings.extend(driver_warnings)
    if problems:
        return _refuse(problems)
    assert spec is not None, "no problems: the first pool's spec was built"
    plan = {
        **spec.plan(),
        "pools": capacity.plan_lines(args.instance_type),
        "ami_version": capacity.ami_version,
        "facts_from": getattr(args, "facts_from", None),
    }
    print(json.dumps(plan, indent=2) if args.json else format_plan("plan (valid)", plan))
    return 0


def _refuse(violations) -> int:
    for violation in violations:
        print(f"error: {violation}", file=sys.stderr)
    return 2


def _settings(args: argparse.Namespace) -> Dict[str, Any]:
    """EndpointSpec's arguments from the flags, less the instance type."""
    engine = engine_from(args.engine)
    facts = None
    if args.model_id and args.num_parameters is None:
        facts, where = facts_for(
            args.model_id, args.revision, Path(args.context_file), args.offline
        )
        args.facts_from = where
    return dict(
        model_id=args.model_id,
        model_facts=facts,
        tensor_parallel_degree=args.tensor_parallel_degree,
        engine=engine,
        dtype=args.dtype,
        instance_count=args.instance_count,
        image_tag=args.image_tag,
        volume_size_gb=args.volume_size_gb,
        model_data_download_timeout_s=args.download_timeout,
        container_startup_health_check_timeout_s=args.startup_timeout,
        kms_key_id=args.kms_key,
        region=args.region,
        has_model_code=engine.needs_model_code and not args.no_model_code,
        num_parameters=args.num_parameters,
        num_attention_heads=args.num_heads,
        gpu_count=args.gpu_count,
        gpu_memory_gib=args.gpu_memory_gib,
        request_limits=RequestLimits(
            args.max_input_tokens, args.max_new_tokens, args.max_total_tokens, args.max_batch_size
        ),
    )


def _recommend(args: argparse.Namespace, settings: Dict[str, Any]) -> int:
    from ..spec.recommend import format_fits, recommend

    limits: RequestLimits = settings["request_limits"]
    if limits.max_total_tokens is None and not (limits.max_input_tokens and limits.max_new_tokens):
        # the budget the rows must hold: what the engine takes when nothing bounds it
        engine = settings["engine"]
        budget = default_total(engine, positions_cap(engine, settings["model_facts"]))
        settings = {
            **settings,
            "request_limits": RequestLimits(
                limits.max_input_tokens, limits.max_new_tokens, budget, limits.max_batch_size
            ),
        }
    settings = {k: v for k, v in settings.items() if k != "tensor_parallel_degree"}
    fits = recommend(settings)
    if args.json:
        print(json.dumps([fit.__dict__ for fit in fits], indent=2))
    else:
        total = settings["request_limits"].total_tokens
        print(f"instances that hold {args.model_id or 'the model'} with {total}-token requests:")
        print(format_fits(fits))
    return 0 if fits else 2


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
