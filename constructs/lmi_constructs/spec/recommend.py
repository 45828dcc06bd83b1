"""`lmi plan --recommend`: the catalog's instance types and tensor parallel degrees that hold a
model and a token budget, each checked by the full EndpointSpec rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .endpoint_spec import EndpointSpec
from .errors import SpecError
from .instances import INSTANCES
from .models import valid_tensor_parallel_degrees


@dataclass(frozen=True)
class Fit:
    """One instance type that holds the model, at its smallest fitting degree.

    Args:
        instance_type, tensor_parallel_degree: what to deploy.
        gpus_used, gpu_count, gpu: GPUs the model takes of the instance's, and their model.
        weights_gib: weights per GPU.
        kv_room_tokens: KV-cache room per GPU, in tokens.
        full_sequences: sequences of max_total_tokens that fit at once.
        max_total_tokens: the token budget the row was sized for.
        price_per_hour: on-demand USD per hour; None where the catalog has no price.
    """

    instance_type: str
    tensor_parallel_degree: int
    gpus_used: int
    gpu_count: int
    gpu: str
    weights_gib: Optional[float]
    kv_room_tokens: Optional[int]
    full_sequences: Optional[int]
    max_total_tokens: int
    price_per_hour: Optional[float] = None


def recommend(settings: Dict[str, Any]) -> List[Fit]:
    """Every catalog instance shape (the smallest host of each family and GPU count) that
    holds the model at some degree, smallest total GPU memory first; a bigger instance whose
    smallest fitting degree an earlier row of the same GPU already has is left out. `settings` are
    EndpointSpec's arguments less instance_type and tensor_parallel_degree."""
    fits: List[Fit] = []
    seen, used = set(), set()
    for instance in sorted(INSTANCES.values(), key=lambda i: (i.total_gpu_memory_gib, i.gpu_count)):
        family = (instance.name.split(".")[1], instance.gpu_count)
        if family in seen:
            continue  # a bigger host of the same GPUs: the same fit, more CPU
        seen.add(family)
        for tp in valid_tensor_parallel_degrees(None, instance.gpu_count):
            try:
                spec = EndpointSpec(
                    **settings, instance_type=instance.name, tensor_parallel_degree=tp
                )
            except SpecError:
                continue
            if (instance.gpu, instance.gpu_memory_gib, tp) in used:
                break  # the same GPUs already hold it on a smaller host
            used.add((instance.gpu, instance.gpu_memory_gib, tp))
            memory = spec.memory
            fits.append(
                Fit(
                    instance.name,
                    tp,
                    tp,
                    instance.gpu_count,
                    instance.gpu,
                    round(memory.weights_gib, 2) if memory else None,
                    memory.kv_room_tokens if memory else None,
                    memory.full_sequences if memory else None,
                    spec.request_limits.total_tokens,
                )
            )
            break
    return fits


def format_fits(fits: List[Fit]) -> str:
    if not fits:
        return "no catalog instance holds this model and token budget"
    header = (
        f"{'instance':<20} {'TP':>3} {'GPUs':>17} {'weights/GPU':>12} {'KV tokens/GPU':>14} "
        f"{'full seqs':>9} {'tokens':>7} {'$/h':>6}"
    )
    rows = [header]
    for fit in fits:
        rows.append(
            f"{fit.instance_type:<20} {fit.tensor_parallel_degree:>3} "
            f"{f'{fit.gpus_used}/{fit.gpu_count} {fit.gpu}':>17} "
            f"{_num(fit.weights_gib, ' GiB'):>12} {_num(fit.kv_room_tokens):>14} "
            f"{_num(fit.full_sequences):>9} {fit.max_total_tokens:>7} "
            f"{_num(fit.price_per_hour):>6}"
        )
    rows.append("$/h: n/a where the catalog has no on-demand price (none recorded yet)")
    return "\n".join(rows)


def _num(value, unit: str = "") -> str:
    return "n/a" if value is None else f"{value}{unit}"
