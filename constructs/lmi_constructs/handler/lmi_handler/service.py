"""The loaded model and its request path: built once per worker process by model.handle."""

from __future__ import annotations

import logging
import time
from typing import Mapping

from .config import HandlerConfig
from .generation import BadRequest, generate, parse_request
from .loading import load
from .weights import prepare_weights

log = logging.getLogger(__name__)


class Service:
    def __init__(self, config: HandlerConfig, model, tokenizer, device: str):
        self.config, self.model, self.tokenizer, self.device = config, model, tokenizer, device

    @classmethod
    def start(cls, properties: Mapping[str, str]) -> "Service":
        started = time.monotonic()
        config = HandlerConfig.from_properties(properties)
        weights_dir, downloaded = prepare_weights(config)
        model, tokenizer, device = load(config, weights_dir)
        log.info(
            "model ready: backend %s, dtype %s, tp %d, weights %s (%s), %.1f s",
            config.backend,
            config.dtype,
            config.tensor_parallel_degree,
            weights_dir,
            "downloaded" if downloaded else "already local",
            time.monotonic() - started,
        )
        return cls(config, model, tokenizer, device)

    def serve(self, body: bytes):
        """(HTTP status, JSON-able body): 400 for the client's mistakes, 500 for ours."""
        try:
            request = parse_request(body, self.config)
            results = generate(self.model, self.tokenizer, self.device, request, self.config)
        except BadRequest as error:
            return 400, {"error": str(error)}
        except Exception as error:  # the worker must keep serving: log it, answer 500
            log.exception("generation failed")
            return 500, {"error": f"internal error: {type(error).__name__}: {error}"}
        return 200, results
