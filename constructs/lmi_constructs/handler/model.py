"""DJL Serving entry point (option.entryPoint=model.py).

The first call is DJL's empty warm-up Input with the init properties: it builds the Service once
per worker process (weights on local disk, model loaded) and returns None. Later calls serve
requests; see lmi_handler/generation.py for the request and response format.
"""

import logging
import threading

from djl_python import Input, Output

from lmi_handler.service import Service

log = logging.getLogger(__name__)
_lock = threading.Lock()
_service = None
_failure = None


def handle(inputs: Input):
    global _service, _failure
    if _service is None:
        with _lock:  # one initialisation, however many threads call at once
            if _service is None and _failure is None:
                try:
                    _service = Service.start(inputs.get_properties())
                except Exception as error:
                    _failure = f"{type(error).__name__}: {error}"
                    log.exception("model initialisation failed")
                    raise
    if inputs.is_empty():
        return None
    if _service is None:
        return Output(code=503, message="model not loaded").add_as_json(
            {"error": f"the model failed to load: {_failure}"}
        )
    status, body = _service.serve(inputs.get_as_bytes())
    return Output(code=status, message="OK" if status == 200 else "error").add_as_json(body)
