"""HubWeights' functions' settings: the environment variables the construct sets, written and
read here only, parsed once per invocation into typed values (a missing or malformed one is a
SettingsError naming the variable)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Mapping, Optional

from .errors import SettingsError

BUCKET = "BUCKET"
HF_ENDPOINT = "HF_ENDPOINT"
HF_TOKEN_SECRET_ARN = "HF_TOKEN_SECRET_ARN"
WORKER_FUNCTION = "WORKER_FUNCTION"
MAX_PARALLEL_WORKERS = "MAX_PARALLEL_WORKERS"
COPY_DEADLINE_S = "COPY_DEADLINE_S"


@dataclass(frozen=True)
class HubSettings:
    """What all three copy functions need: the weights bucket and how to reach the Hub."""

    bucket: str
    hub_endpoint: Optional[str] = None  # None: HF_ENDPOINT's default, huggingface.co
    token_secret_arn: Optional[str] = None  # the secret's ARN; the token is read at run time

    def environment(self) -> Dict[str, str]:
        variables = {BUCKET: self.bucket}
        if self.hub_endpoint:
            variables[HF_ENDPOINT] = self.hub_endpoint
        if self.token_secret_arn:
            variables[HF_TOKEN_SECRET_ARN] = self.token_secret_arn
        return variables

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "HubSettings":
        return cls(
            bucket=_required(environ, BUCKET),
            hub_endpoint=environ.get(HF_ENDPOINT) or None,
            token_secret_arn=environ.get(HF_TOKEN_SECRET_ARN) or None,
        )


@dataclass(frozen=True)
class DispatchSettings:
    """What isComplete needs besides: whom to invoke, how many at once, and when to give up (the
    deadline HubWeights derives from the Provider framework's total timeout, so the copy fails
    with its own message before CloudFormation does)."""

    worker_function: str
    max_parallel_workers: int
    copy_deadline_s: float

    def environment(self) -> Dict[str, str]:
        return {
            WORKER_FUNCTION: self.worker_function,
            MAX_PARALLEL_WORKERS: str(self.max_parallel_workers),
            COPY_DEADLINE_S: str(self.copy_deadline_s),
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "DispatchSettings":
        return cls(
            worker_function=_required(environ, WORKER_FUNCTION),
            max_parallel_workers=int(_number(environ, MAX_PARALLEL_WORKERS, minimum=1)),
            copy_deadline_s=_number(environ, COPY_DEADLINE_S, minimum=0),
        )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "")
    if not value:
        raise SettingsError(
            f"{name} is not set: this function needs the value HubWeights gives it; "
            "deploy the function through the HubWeights construct",
            variable=name,
        )
    return value


def _number(environ: Mapping[str, str], name: str, minimum: float) -> float:
    text = _required(environ, name)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value >= minimum:  # also false for nan
        raise SettingsError(
            f"{name}={text!r} is not a number of at least {minimum:g}: set by HubWeights from "
            "its props; deploy the function through the construct",
            variable=name,
        )
    return value
