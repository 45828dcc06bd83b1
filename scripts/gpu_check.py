"""GPU check of the handler's DeepSpeed path: a few minutes on any machine with one NVIDIA GPU.

    pip install torch transformers deepspeed && pip install -e ./constructs
    python scripts/gpu_check.py

Builds a tiny random BLOOM (fp16, 4 heads of 64), loads it through model_code's own loader with
backend deepspeed, TP 1 and kernel injection (deepspeed.init_inference, as the reference), runs a
batched greedy request through the handler's generate, and compares the tokens with plain
transformers on the same GPU. Prints one JSON line; exit 0 when the DeepSpeed path generated.
Not part of CI (no GPU there); the README records whether and where it has been run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "model_code"))
for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1",
                   "MASTER_PORT": "29511"}.items():
    os.environ.setdefault(key, value)


def main() -> int:
    import torch
    import transformers

    from lmi_constructs.local.demo_model import build
    from lmi_handler.config import HandlerConfig
    from lmi_handler.generation import GenerationRequest, generate
    from lmi_handler.loading import load

    if not torch.cuda.is_available():
        print(json.dumps({"ok": False, "error": "no CUDA device"}))
        return 1
    with tempfile.TemporaryDirectory() as directory:
        weights = build(Path(directory) / "bloom", "bloom", hidden_size=256)
        config = HandlerConfig.from_properties(
            {"backend": "deepspeed", "dtype": "fp16", "tensor_parallel_degree": "1",
             "weights_dir": str(weights)}, env={})
        started = time.monotonic()
        model, tokenizer, device = load(config, str(weights))
        loaded_s = time.monotonic() - started
        request = GenerationRequest(["Hello world", "Large models are served with"],
                                    {"max_new_tokens": 16, "details": True}, batched=True)
        injected = generate(model, tokenizer, device, request, config)

        reference = transformers.AutoModelForCausalLM.from_pretrained(
            weights, torch_dtype=torch.float16).to("cuda:0").eval()
        plain = generate(reference, tokenizer, "cuda:0", request, config)
    same = sum(a["generated_text"] == b["generated_text"] for a, b in zip(injected, plain))
    print(json.dumps({
        "ok": True, "gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
        "transformers": transformers.__version__,
        "deepspeed": __import__("deepspeed").__version__, "load_s": round(loaded_s, 1),
        "kernel_injection_results": injected, "rows_equal_to_plain_transformers": f"{same}/2"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
