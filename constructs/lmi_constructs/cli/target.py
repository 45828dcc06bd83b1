"""Sending requests to where `lmi invoke` and `lmi bench` point: a URL (`lmi local`) or a
SageMaker endpoint (optionally one inference component), plain or streamed."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional, Tuple

from ..spec.engines import Engine
from .aws_setup import explain
from .errors import TargetError

# SageMaker ends a real-time invocation after 60 s (InvokeEndpoint API reference: the container
# must respond within 60 seconds); botocore's own read timeout is also 60 s,
# so wait a little longer to receive SageMaker's answer rather than a socket timeout.
CLIENT_READ_TIMEOUT_S = 70
REALTIME_LIMIT_ADVICE = (
    "SageMaker gives a real-time invocation 60 s: ask for fewer tokens (--max-new-tokens), "
    "lower LmiEndpoint's request_limits.max_new_tokens so no request can exceed it, or use "
    "async_inference=AsyncInference(...) for long generations"
)

# What `lmi local` names its mode that serves our model.py (its other mode is "vllm").
LOCAL_HANDLER = "model_code"


def runs_our_handler(engine_name: Optional[str]) -> Optional[bool]:
    """Whether the target's engine (its lmi:engine tag, or lmi local's mode) runs our model.py,
    read from the engine's profile: DJL's Python engine answers it with the whole generation,
    and the handler takes {"inputs": ...} only, a batch of prompts at once. An engine LMI serves
    itself (vLLM's async service on LMI v17+, djl-serving lmi_vllm/vllm_async_service.py) takes
    chat `messages` and TGI-style `inputs`, one prompt per request. None: the target does not
    say."""
    if engine_name == LOCAL_HANDLER:
        return True
    engine = Engine.find(engine_name) if engine_name else None
    return None if engine is None else engine.needs_model_code


def error_message(body) -> object:
    """What an error answer says: LMI and our handler put it under "error"."""
    return body.get("error", body) if isinstance(body, dict) else body


def generations(body) -> list:
    """The generations of an answer: our handler answers a list, LMI's rolling batch one object."""
    return body if isinstance(body, list) else [body]


@dataclass
class Target:
    name: str
    url: Optional[str] = None
    endpoint: Optional[str] = None
    inference_component: Optional[str] = None
    description: Dict[str, str] = field(default_factory=dict)
    _runtime: Any = None  # a boto3 sagemaker-runtime client

    @property
    def answers_whole(self) -> bool:
        """The endpoint cannot stream: it runs our model.py, or its Model is tagged
        lmi:streaming=false."""
        return (
            runs_our_handler(self.description.get("engine")) is True
            or self.description.get("streaming") == "false"
        )

    @property
    def takes_chat(self) -> Optional[bool]:
        """Whether the engine takes LMI's chat schema (and one prompt per request): None when
        the target does not say (no lmi:engine tag, a URL that is not `lmi local`)."""
        ours = runs_our_handler(self.description.get("engine"))
        return None if ours is None else not ours

    def _component(self) -> Dict[str, str]:
        return (
            {"InferenceComponentName": self.inference_component} if self.inference_component else {}
        )

    def invoke(self, payload) -> Tuple[int, object]:
        """(status, parsed body). Endpoint errors come back as their status and message."""
        body = json.dumps(payload).encode()
        if self.url:
            return _post(f"{self.url.rstrip('/')}/invocations", body, self._headers())
        from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

        try:
            response = self._runtime.invoke_endpoint(
                EndpointName=self.endpoint,
                Body=body,
                ContentType="application/json",
                Accept="application/json",
                **self._component(),
            )
        except ReadTimeoutError as error:
            raise TargetError(
                f"{self.endpoint}: no answer within {CLIENT_READ_TIMEOUT_S} s. "
                + REALTIME_LIMIT_ADVICE
            ) from error
        except BotoCoreError as error:  # e.g. no credentials: not an answer from the endpoint
            raise TargetError(f"{self.endpoint}: {explain(error)}") from error
        except ClientError as error:
            details = error.response.get("Error", {})
            status = error.response.get("OriginalStatusCode") or error.response.get(
                "ResponseMetadata", {}
            ).get("HTTPStatusCode", 500)
            message = error.response.get("OriginalMessage") or details.get("Message", str(error))
            if _timed_out(message):
                message = f"{message} ({REALTIME_LIMIT_ADVICE})"
            return status, _parse(message.encode() if isinstance(message, str) else message)
        return 200, _parse(response["Body"].read())

    def invoke_stream(self, payload) -> Iterator[bytes]:
        """The response body as it arrives (InvokeEndpointWithResponseStream's PayloadPart
        bytes, or the HTTP body's chunks); TargetError when the request is refused or the
        stream breaks."""
        body = json.dumps({**payload, "stream": True}).encode()
        if self.url:
            yield from _post_stream(f"{self.url.rstrip('/')}/invocations", body, self._headers())
            return
        from botocore.exceptions import BotoCoreError, ClientError, EventStreamError

        try:
            response = self._runtime.invoke_endpoint_with_response_stream(
                EndpointName=self.endpoint,
                Body=body,
                ContentType="application/json",
                Accept="application/jsonlines",
                **self._component(),
            )
            for event in response["Body"]:
                if "PayloadPart" in event:
                    yield event["PayloadPart"]["Bytes"]
        except EventStreamError as error:  # ModelStreamError, InternalStreamFailure
            raise TargetError(f"{self.endpoint}: the stream broke: {error}") from error
        except ClientError as error:
            details = error.response.get("Error", {})
            message = error.response.get("OriginalMessage") or details.get("Message", str(error))
            raise TargetError(
                f"{self.endpoint} answered "
                f"{error.response.get('OriginalStatusCode', details.get('Code'))}:"
                f" {message}"
            ) from error
        except BotoCoreError as error:
            raise TargetError(f"{self.endpoint}: {explain(error)}") from error

    def _headers(self) -> Dict[str, str]:
        # the header InvokeEndpoint's REST form uses for InferenceComponentName
        return (
            {"X-Amzn-SageMaker-Inference-Component": self.inference_component}
            if self.inference_component
            else {}
        )


def _post(url: str, body: bytes, headers: Dict[str, str]) -> Tuple[int, object]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, _parse(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _parse(error.read())
    except urllib.error.URLError as error:
        raise TargetError(f"{url}: {error.reason}; is the server running (lmi local)?") from error


def _post_stream(url: str, body: bytes, headers: Dict[str, str]) -> Iterator[bytes]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/jsonlines", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            while True:
                chunk = response.read1(65536)  # what has arrived, not a full buffer
                if not chunk:
                    return
                yield chunk
    except urllib.error.HTTPError as error:
        message = error_message(_parse(error.read()))
        raise TargetError(f"{url} answered {error.code}: {message}") from error
    except urllib.error.URLError as error:
        raise TargetError(f"{url}: {error.reason}; is the server running (lmi local)?") from error


def _timed_out(message) -> bool:
    """SageMaker's ModelError when the container took longer than the real-time limit."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return "timed out" in text.lower()


def _parse(data: bytes):
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
