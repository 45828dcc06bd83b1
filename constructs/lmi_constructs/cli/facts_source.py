"""Where `lmi plan` finds a model's facts: recorded in cdk.context.json (`lmi lookup`), the
built-in catalog, else read live from the Hub (or an s3:// prefix) with a short timeout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, Tuple

from ..spec.model_facts import ModelFacts, context_key
from ..spec.models import lookup_model

DEFAULT_CONTEXT_FILE = "cdk.context.json"


class FactsUnavailable(Exception):
    """The model's facts could not be had; the message says why and what to do."""


def recorded_facts(
    model_id: str, revision: Optional[str], context_file: Path
) -> Optional[ModelFacts]:
    """The facts `lmi lookup` recorded for this model and revision, or None."""
    if not context_file.is_file():
        return None
    try:
        context = json.loads(context_file.read_text())
    except ValueError as error:
        raise FactsUnavailable(f"{context_file} is not JSON ({error})") from None
    record = context.get(context_key(model_id, revision))
    if record is None:
        return None
    try:
        return ModelFacts.from_record(record)
    except ValueError as error:
        raise FactsUnavailable(
            f"{context_file} {context_key(model_id, revision)}: {error}; run "
            f"`lmi lookup {model_id}` again"
        ) from None


def facts_for(
    model_id: str,
    revision: Optional[str],
    context_file: Path,
    offline: bool,
    timeout_s: float = 10.0,
) -> Tuple[Optional[ModelFacts], str]:
    """(facts, where from): recorded, else the catalog, else a live read unless offline.
    Raises FactsUnavailable when the live read fails."""
    facts = recorded_facts(model_id, revision, context_file)
    if facts is not None:
        return facts, f"recorded in {context_file}"
    facts = lookup_model(model_id)
    if facts is not None:
        return facts, "the built-in catalog"
    if offline:
        return None, "nowhere (offline)"
    from . import model_lookup  # huggingface_hub / boto3: only for a live read

    try:
        if model_id.startswith("s3://"):
            record = model_lookup.read_s3_record(model_id, timeout_s=timeout_s)
        else:
            record = model_lookup.read_hub_record(model_id, revision or "main", timeout_s=timeout_s)
    except model_lookup.LookupFailed as error:
        raise FactsUnavailable(str(error)) from None
    return ModelFacts.from_record(record.to_json()), f"read live from {record.read_from}"
