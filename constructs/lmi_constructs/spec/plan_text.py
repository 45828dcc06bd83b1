"""The plan as a user reads it, from `make synth` (the plans the constructs record in the cloud
assembly) and `lmi plan`: plain text from EndpointSpec.plan()'s dict. Tolerant of plans recorded by
older versions: a missing key prints as unknown."""

from __future__ import annotations

from typing import Any, Dict

from .limits import REALTIME_LIMIT_S

# LMI's answer length when a request names no max_new_tokens (djl-serving
# serving/docs/lmi/user_guides/lmi_input_output_schema.md: max_new_tokens, default 30).
LMI_DEFAULT_NEW_TOKENS = 30


def format_plan(title: str, plan: Dict[str, Any]) -> str:
    """A short human plan, the same from `make synth` and `lmi plan`; tolerant of plans
    recorded by older versions (missing keys print as unknown)."""
    lines = [
        f"{title}",
        f"  model         {plan.get('model')}"
        + (
            f" ({plan['model_id']})"
            if plan.get("model_id") and plan["model_id"] != plan.get("model")
            else ""
        ),
        *([f"  facts         {plan['facts_from']}"] if plan.get("facts_from") else []),
        f"  engine        {plan.get('engine')}, dtype {plan.get('dtype')}"
        + (f", {plan['quantization']} weights" if plan.get("quantization") else "")
        + f", image {plan.get('image_tag')}",
        f"  instance      {plan.get('instance_count')} x {plan.get('instance_type')}: "
        f"{plan.get('gpus')}",
        f"  tensor par.   {plan.get('tensor_parallel_degree')}",
        f"  memory        {_memory_text(plan)}",
    ]
    memory = plan.get("memory")
    if memory and memory.get("kv_bytes_per_token"):
        lines.append(
            f"  KV cache      {memory['kv_room_gib']} GiB per GPU: {memory['kv_room_tokens']} "
            f"tokens ({memory['kv_bytes_per_token']} bytes each), {memory['full_sequences']} "
            f"full-length sequence(s) of {memory['max_model_len']} at once"
        )
    lines += [
        f"  timeouts      download {plan.get('model_data_download_timeout_s')} s, "
        f"startup health check {plan.get('container_startup_health_check_timeout_s')} s",
        f"  volume        {plan.get('volume')}",
        f"  weights       {plan.get('weights_location') or 'n/a'}",
    ]
    limits = plan.get("limits")
    if limits:
        lines.append(f"  requests      {_requests_text(plan, limits)}")
    if "streaming" in plan:
        lines.append(
            "  streaming     "
            + (
                'yes: InvokeEndpointWithResponseStream, "stream": true'
                if plan["streaming"]
                else "no: whole answers only"
            )
        )
    component = plan.get("component")
    if component:
        zero = " (scales to zero)" if component["min_copies"] == 0 else ""
        lines.append(
            f"  component     {component['accelerators']} GPU(s) and "
            f"{component['memory_mb']} MB per copy, {component['copies']} copies at "
            f"start, {component['min_copies']}..{component['max_copies']}{zero}; "
            f"weights fetched by {component['weights_fetched_by']}"
        )
    else:
        # UpdateEndpoint is blue/green: the new fleet is up before the old one goes.
        count = plan.get("instance_count") or 1
        lines.append(
            f"  updates       blue/green: quota for {2 * count} x "
            f"{plan.get('instance_type')} during a change of weights, image or settings"
        )
    if plan.get("ami_version"):
        lines.append(f"  host AMI      {plan['ami_version']} (InferenceAmiVersion)")
    pools = plan.get("pools") or []
    if len(pools) > 1:
        lines += [f"  pool          {pool}" for pool in pools]
    lines += [f"  warning       {warning}" for warning in plan.get("warnings") or []]
    return "\n".join(lines)


def _memory_text(plan: Dict[str, Any]) -> str:
    memory = plan.get("memory")
    per_gpu = plan.get("weights_per_gpu_gib")
    if memory:
        return (
            f"{memory['weights_gib']} GiB weights + ~{memory['overhead_gib']} GiB overhead per "
            f"GPU of {memory['budget_gib']} GiB ({memory['engine']}: "
            f"{memory['memory_fraction']:.0%} of {memory['gpu_gib']} GiB)"
        )
    if per_gpu is not None:
        return f"{per_gpu} GiB of weights per GPU"
    return "unknown: record the model's facts (lmi lookup MODEL_ID) to check it"


def _requests_text(plan: Dict[str, Any], limits: Dict[str, Any]) -> str:
    if limits.get("enforced_by") == "vllm":
        return (
            f"max_model_len {limits['max_total_tokens']} tokens (prompt + answer), up to "
            f"{limits['max_batch_size']} sequences at once (max_rolling_batch_size); an "
            f"answer's length is the request's max_new_tokens (LMI's default "
            f"{LMI_DEFAULT_NEW_TOKENS}) up to what max_model_len leaves, with no cap of the "
            f"server's: a real-time answer must end within {REALTIME_LIMIT_S} s, so stream "
            "long answers or use async inference"
        )
    return (
        f"up to {limits['max_input_tokens']} input + {limits['max_new_tokens']} new tokens, "
        f"{limits['max_total_tokens']} in all, batch {limits['max_batch_size']}; the handler "
        f"refuses more, so an answer's time is bounded by max_new_tokens (real-time answers "
        f"within {REALTIME_LIMIT_S} s)"
    )
