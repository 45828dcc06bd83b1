"""One rank of a torch.distributed gloo group preparing the weights, as a DJL worker would
(module-level so multiprocessing's spawn can import it)."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta


def prepare_on_rank(rank, world_size, init_file, env, properties, result_file, model_code):
    os.environ.update(env)
    os.environ["LOCAL_RANK"] = str(rank)
    sys.path.insert(0, model_code)
    import torch.distributed as distributed

    distributed.init_process_group(
        "gloo",
        init_method=f"file://{init_file}",
        rank=rank,
        world_size=world_size,
        timeout=timedelta(seconds=60),
    )
    from lmi_handler.config import HandlerConfig
    from lmi_handler.weights import prepare_weights

    try:
        directory, downloaded = prepare_weights(HandlerConfig.from_properties(properties))
        result = {
            "ok": True,
            "downloaded": downloaded,
            "files": sorted(p for p in os.listdir(directory) if not p.startswith(".lmi")),
        }
    except Exception as error:
        result = {"ok": False, "error": str(error)}
    with open(result_file, "w") as handle:
        json.dump(result, handle)
    distributed.destroy_process_group()
