"""The built-in model catalog: recorded facts, each with its source.

`catalog_models.json` holds one record per model in the shape `lmi lookup` writes into
cdk.context.json (model_facts.FactsRecord): config.json's keys verbatim, the weight files' bytes
and the sources they were read from. `ModelFacts.from_record` derives the facts from it, so the
catalog and a lookup are read by the same code. A model outside it is looked up
(`lmi lookup MODEL_ID`) or described with ModelFacts by hand.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .model_facts import ModelFacts

CATALOG_FILE = Path(__file__).with_name("catalog_models.json")


@lru_cache(maxsize=1)
def catalog_records() -> Tuple[Dict[str, Any], ...]:
    """The catalog's records, as stored."""
    return tuple(json.loads(CATALOG_FILE.read_text()))


@lru_cache(maxsize=1)
def _catalog() -> Dict[str, ModelFacts]:
    models = {}
    for record in catalog_records():
        facts = ModelFacts.from_record(record)
        sources = "; ".join(record.get("sources") or [])
        models[record["model_id"]] = ModelFacts(
            **{**facts.to_dict(), "source": f"catalog: {sources}"}
        )
    return models


def catalog_model_ids() -> List[str]:
    return sorted(_catalog())


def lookup_model(model_id: Optional[str]) -> Optional[ModelFacts]:
    """The catalog's facts for a repository id (case-insensitive, as the Hub's ids are), or
    None."""
    if not model_id:
        return None
    models = _catalog()
    if model_id in models:
        return models[model_id]
    lowered = {key.lower(): value for key, value in models.items()}
    return lowered.get(model_id.lower())


def valid_tensor_parallel_degrees(
    num_attention_heads: Optional[int], gpu_count: int
) -> Tuple[int, ...]:
    """Degrees that divide the GPU count and the head count (DeepSpeed asserts it; vLLM checks
    num_attention_heads % tensor_parallel_size in ModelConfig.verify_with_parallel_config)."""
    return tuple(
        tp
        for tp in range(1, gpu_count + 1)
        if gpu_count % tp == 0 and (num_attention_heads is None or num_attention_heads % tp == 0)
    )
