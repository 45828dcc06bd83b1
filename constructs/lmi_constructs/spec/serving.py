"""DJL Serving's configuration, rendered from the validated spec: one source for every setting.

Engines that run our model.py read serving.properties, which goes into the model.tar.gz; DJL
0.19/0.20 map no OPTION_* environment variables to option.* (that arrived in 0.24.0, where a key
already in serving.properties still wins: djl-serving's serving/docs/configurations_model.md),
so everything the container must know at start is written there. Engines without a handler
(vLLM) get OPTION_* environment variables, and need 0.24.0 or later; on LMI v17 and later images
vLLM runs in async mode (vllm_mode_options). The weights' bucket and
prefix stay in the environment (MODEL_S3_BUCKET, MODEL_S3_PREFIX): they are named at deploy
time, after the bundle is built, and the handler reads them itself.
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from . import images
from .errors import Violation

# DJL Serving reads these itself (engine choice, handler file, workers' TP, load timeout).
DJL_KEYS = (
    "engine",
    "option.entryPoint",
    "option.tensor_parallel_degree",
    "option.model_loading_timeout",
)
DEFAULT_ENTRY_POINT = "model.py"
VLLM_ASYNC_ENTRY_POINT = "djl_python.lmi_vllm.vllm_async_service"
HEADER = (
    "# Rendered by LmiEndpoint from its validated props; the keys above the blank line are\n"
    "# its own. Change them through the construct, not here.\n"
)


def model_code_properties(spec) -> Dict[str, str]:
    """serving.properties keys LmiEndpoint owns, for an engine that runs model.py."""
    limits = spec.request_limits
    return {
        "engine": spec.engine.serving_engine,
        "option.backend": str(spec.engine.handler_backend),
        "option.tensor_parallel_degree": str(spec.resolved_tensor_parallel_degree),
        "option.dtype": spec.resolved_dtype,
        # DJL gives up on a load after this; in step with the startup health check.
        "option.model_loading_timeout": str(spec.container_startup_health_check_timeout_s),
        "option.max_input_tokens": str(limits.max_input_tokens),
        "option.max_new_tokens_limit": str(limits.max_new_tokens),
        "option.max_total_tokens": str(limits.total_tokens),
        "option.max_batch_size": str(limits.max_batch_size),
        # LMI's option.trust_remote_code (default false): only when the user opted in
        **({"option.trust_remote_code": "true"} if spec.trust_remote_code else {}),
    }


def environment_options(spec) -> Dict[str, str]:
    """OPTION_* variables for an engine without model.py (read by DJL from 0.24.0)."""
    limits = spec.request_limits
    options = {
        "OPTION_ENGINE": spec.engine.serving_engine,
        "OPTION_DTYPE": spec.resolved_dtype,
        "OPTION_TENSOR_PARALLEL_DEGREE": str(spec.resolved_tensor_parallel_degree),
        "OPTION_MODEL_LOADING_TIMEOUT": str(spec.container_startup_health_check_timeout_s),
        "OPTION_MAX_MODEL_LEN": str(limits.total_tokens),
        "OPTION_MAX_ROLLING_BATCH_SIZE": str(limits.max_batch_size),
    }
    options.update(vllm_mode_options(spec) if spec.engine.rolling_batch else {})
    if spec.trust_remote_code:
        options["OPTION_TRUST_REMOTE_CODE"] = "true"
    return options


def vllm_mode_options(spec) -> Dict[str, str]:
    """How DJL runs vLLM: async mode where the image has it, else the rolling-batch path.

    Async mode is spelt out rather than left to LMI's recommender (which picks it only while
    option.rolling_batch is unset), in the form djl-serving documents for it: serving/docs/
    stateful_sessions.md at tag v0.36.0 (OPTION_ASYNC_MODE=true, OPTION_ROLLING_BATCH=disable,
    OPTION_ENTRYPOINT=djl_python.lmi_vllm.vllm_async_service). The async service still reads
    OPTION_MAX_ROLLING_BATCH_SIZE (as vLLM's max_num_seqs) and OPTION_MAX_MODEL_LEN:
    engines/python/setup/djl_python/properties_manager/vllm_rb_properties.py at v0.36.0.
    """
    if images.runs_vllm_async(spec.resolved_image_tag):
        return {
            "OPTION_ASYNC_MODE": "true",
            "OPTION_ROLLING_BATCH": "disable",
            "OPTION_ENTRYPOINT": VLLM_ASYNC_ENTRY_POINT,
        }
    return {"OPTION_ROLLING_BATCH": spec.engine.rolling_batch}


def parse_properties(text: str) -> List[Tuple[str, str]]:
    """(key, value) lines of a .properties file, in order; comments and blanks dropped."""
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = (part.strip() for part in line.split("=", 1))
            pairs.append((key, value))
    return pairs


def render_properties(directory_text: str, owned: Dict[str, str]) -> Tuple[str, List[Violation]]:
    """The directory's serving.properties with LmiEndpoint's keys written first; a line of the
    directory that sets one of them to another value is a violation (it would silently lose)."""
    violations, kept = [], []
    for key, value in parse_properties(directory_text):
        if key in owned:
            if value != owned[key]:
                violations.append(
                    Violation(
                        "model_code serving.properties",
                        f"{key}={value}",
                        f"disagrees with "
                        f"{key}={owned[key]}, which LmiEndpoint renders from its props",
                        "remove the line; set it through LmiEndpoint's props",
                    )
                )
        else:
            kept.append((key, value))
    if not any(key == "option.entryPoint" for key, _ in kept):
        kept.insert(0, ("option.entryPoint", DEFAULT_ENTRY_POINT))
    lines = [HEADER] + [f"{key}={value}\n" for key, value in owned.items()] + ["\n"]
    lines += [f"{key}={value}\n" for key, value in kept]
    return "".join(lines), violations
