"""The AWS clients and the logging setup every function shares: made once per Lambda container,
kept in CLIENTS so a test (or the deploy rehearsal) can hand a function its own."""

from __future__ import annotations

import json
import logging
from typing import Any, Dict

import boto3
from botocore.config import Config

from .copier.s3_objects import NamedRefusals

log = logging.getLogger()
log.setLevel(logging.INFO)
# botocore's DEBUG logs carry response bodies, GetSecretValue's included: never let them through.
logging.getLogger("botocore").setLevel(logging.WARNING)

CLIENTS: Dict[str, Any] = {}


def client(name: str):
    """boto3's client for the service, with standard-mode retries and room for parallel parts."""
    if name not in CLIENTS:
        CLIENTS[name] = boto3.client(
            name,
            config=Config(
                retries={"mode": "standard", "max_attempts": 10}, max_pool_connections=32
            ),
        )
    return CLIENTS[name]


def s3():
    """S3 with refusals named (action and resource) rather than taken for missing objects."""
    if "named-s3" not in CLIENTS:
        CLIENTS["named-s3"] = NamedRefusals(client("s3"))
    return CLIENTS["named-s3"]


def log_event(event) -> None:
    """The request's identifiers only: properties may name a secret, never log more than this."""
    log.info(
        json.dumps(
            {
                key: event.get(key)
                for key in ("RequestType", "RequestId", "LogicalResourceId", "PhysicalResourceId")
            }
        )
    )
