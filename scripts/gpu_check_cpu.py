"""The dry run's stand-ins: what lets every gpu_check stage run on a CPU, each one said.

- `deepspeed` is not importable here (and DeepSpeed's kernel injection needs CUDA): the handler
  gets a module whose OnDevice is DeepSpeed's own (exec'd from the pinned sdist, as
  tests/support/deepspeed_sources.py does) and whose init_inference has the pinned version's
  signature, refuses what that signature refuses, records its arguments and returns the model
  as it was given: the GPU-only call, skipped.
- The handler names a CUDA device for its inputs (cuda:LOCAL_RANK for DeepSpeed, cuda:0 for
  Accelerate); the model sits on the CPU, so the device the Service uses is put back to cpu.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import types
from typing import Any, Dict, Iterator, List

from gpu_check_common import ROOT

DEEPSPEED_VERSION = "0.7.5"  # the 0.20.0 image's; the first with init_inference(max_tokens)


def _plain(value):
    return str(value) if not isinstance(value, (bool, int, float, str, type(None))) else value


def deepspeed_stand_in(skipped: List[str]) -> types.ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.support.deepspeed_sources import init_inference_signature, on_device

    pinned = init_inference_signature(DEEPSPEED_VERSION)
    signature = inspect.signature(pinned)
    module = types.ModuleType("deepspeed")
    module.__version__ = f"{DEEPSPEED_VERSION} (source stand-in, dry run)"  # type: ignore[attr-defined]
    module.OnDevice = on_device(DEEPSPEED_VERSION)  # type: ignore[attr-defined]
    calls: List[Dict[str, Any]] = []

    def init_inference(model, *args, **kwargs):
        signature.bind(model, *args, **kwargs)  # TypeError where that DeepSpeed would raise one
        calls.append({name: _plain(value) for name, value in kwargs.items()})
        skipped.append(
            "deepspeed.init_inference (kernel injection and the kernels' workspace need CUDA): "
            "arguments checked against DeepSpeed "
            f"{DEEPSPEED_VERSION}'s signature and recorded; the model served is the one given"
        )
        return types.SimpleNamespace(module=model)

    init_inference.__signature__ = signature  # type: ignore[attr-defined]
    module.init_inference = init_inference  # type: ignore[attr-defined]
    module.calls = calls  # type: ignore[attr-defined]
    return module


@contextlib.contextmanager
def on_cpu(skipped: List[str]) -> Iterator[types.ModuleType]:
    """For one stage: the DeepSpeed stand-in installed, the Service's CUDA device put on cpu."""
    import lmi_handler.service as service_module

    stand_in = deepspeed_stand_in(skipped)
    saved_module, real_load = sys.modules.get("deepspeed"), service_module.load

    def load(config, weights_dir):
        model, tokenizer, device = real_load(config, weights_dir)
        if device.startswith("cuda"):
            skipped.append(f"the handler's input device {device}: cpu, where the model is")
            device = "cpu"
        return model, tokenizer, device

    sys.modules["deepspeed"] = stand_in
    service_module.load = load
    try:
        yield stand_in
    finally:
        service_module.load = real_load
        if saved_module is None:
            sys.modules.pop("deepspeed", None)
        else:
            sys.modules["deepspeed"] = saved_module
