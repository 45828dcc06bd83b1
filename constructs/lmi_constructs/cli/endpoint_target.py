"""Where `lmi invoke` and `lmi bench` send requests: a URL (`lmi local`), a SageMaker endpoint by
name, or the endpoint a deployed stack reports in its outputs."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Optional, Tuple

from .aws_setup import explain

# What the reference table reports about an endpoint; "n/a" where the target cannot say.
DESCRIPTION_KEYS = ("model", "engine", "precision", "parallel degree", "instance")
# SageMaker ends a real-time invocation after 60 s (InvokeEndpoint API reference: the container
# must respond within 60 seconds); botocore's own read timeout is also 60 s,
# so wait a little longer to receive SageMaker's answer rather than a socket timeout.
CLIENT_READ_TIMEOUT_S = 70
REALTIME_LIMIT_ADVICE = (
    "SageMaker gives a real-time invocation 60 s: ask for fewer tokens (--max-new-tokens), "
    "lower LmiEndpoint's request_limits.max_new_tokens so no request can exceed it, or use "
    "async_inference=AsyncInference(...) for long generations"
)


class TargetError(Exception):
    """The target cannot be reached or resolved; str() says what to do."""


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="a deployed stack: its EndpointName output")
    target.add_argument("--endpoint", help="a SageMaker endpoint name")
    target.add_argument(
        "--url", help="an HTTP server with /invocations, e.g. lmi local's http://127.0.0.1:8080"
    )
    parser.add_argument(
        "--inference-component",
        metavar="NAME",
        help="the model on an LmiInferenceEndpoint (its InferenceComponentName "
        "output); found from --stack when the stack has one",
    )


@dataclass
class Target:
    name: str
    url: Optional[str] = None
    endpoint: Optional[str] = None
    inference_component: Optional[str] = None
    description: Dict[str, str] = field(default_factory=dict)
    _runtime: Any = None  # a boto3 sagemaker-runtime client

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


def resolve_target(args: argparse.Namespace) -> Target:
    component = getattr(args, "inference_component", None)
    if args.url:
        return Target(
            name=args.url,
            url=args.url,
            inference_component=component,
            description={key: "n/a" for key in DESCRIPTION_KEYS},
        )
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        if args.endpoint:
            name = args.endpoint
        else:
            name, components = stack_outputs(boto3.client("cloudformation"), args.stack)
            if component is None and len(components) == 1:
                component = components[0]
        description = describe_endpoint(boto3.client("sagemaker"), name, component)
        from botocore.config import Config

        # One attempt: a generation that timed out is still running in the container, and a
        # retry would queue behind it.
        runtime = boto3.client(
            "sagemaker-runtime",
            config=Config(
                read_timeout=CLIENT_READ_TIMEOUT_S, retries={"mode": "standard", "max_attempts": 1}
            ),
        )
        return Target(
            name=f"{name}/{component}" if component else name,
            endpoint=name,
            inference_component=component,
            description=description,
            _runtime=runtime,
        )
    except (BotoCoreError, ClientError) as error:
        raise TargetError(explain(error)) from error


def stack_outputs(cloudformation, stack: str) -> Tuple[str, list]:
    """(endpoint name, inference component names) from a deployed stack's outputs."""
    from botocore.exceptions import ClientError

    try:
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except ClientError as error:
        raise TargetError(
            f"stack {stack}: {error.response['Error']['Message']}; deploy it "
            "first, or pass --endpoint"
        ) from error
    names = [o["OutputValue"] for o in outputs if "EndpointName" in o["OutputKey"]]
    if len(names) != 1:
        raise TargetError(
            f"stack {stack} has {len(names)} EndpointName outputs: pass --endpoint "
            f"with one of {names}"
            if names
            else f"stack {stack} has no EndpointName output: is it an LmiEndpoint stack?"
        )
    components = [o["OutputValue"] for o in outputs if "InferenceComponentName" in o["OutputKey"]]
    return names[0], components


def describe_endpoint(sagemaker, name: str, component: Optional[str] = None) -> Dict[str, str]:
    """The reference table's columns, read from the endpoint, its config and its model (the
    inference component's model on an LmiInferenceEndpoint)."""
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    if component:
        described = sagemaker.describe_inference_component(InferenceComponentName=component)
        model_name = described["Specification"]["ModelName"]
        copies = described.get("RuntimeConfig", {}).get("CurrentCopyCount", "?")
        instance = f"{copies} copies on {_instance_types(variant)}"
    elif "ModelName" not in variant:
        listed = sagemaker.list_inference_components(EndpointNameEquals=name)
        names = [c["InferenceComponentName"] for c in listed.get("InferenceComponents", [])]
        raise TargetError(
            f"endpoint {name} hosts inference components: pass "
            f"--inference-component with one of {names}"
        )
    else:
        model_name = variant["ModelName"]
        instance = f"{variant.get('InitialInstanceCount', 1)} x {_instance_types(variant)}"
    model = sagemaker.describe_model(ModelName=model_name)
    environment = model.get("PrimaryContainer", {}).get("Environment", {})
    # The constructs tag the Model with what it was built from; with model code the settings
    # live in serving.properties inside model.tar.gz, which describe_model does not show.
    tags = {
        tag["Key"]: tag["Value"]
        for tag in sagemaker.list_tags(ResourceArn=model["ModelArn"]).get("Tags", [])
    }
    return {
        "model": tags.get("lmi:model-id")
        or environment.get("OPTION_MODEL_ID")
        or environment.get("MODEL_S3_PREFIX", "n/a"),
        "engine": tags.get("lmi:engine", "n/a"),
        "precision": tags.get("lmi:dtype", "n/a"),
        "parallel degree": tags.get("lmi:tensor-parallel-degree")
        or environment.get("TENSOR_PARALLEL_DEGREE", "n/a"),
        "instance": instance,
        "streaming": tags.get("lmi:streaming", "n/a"),  # "false": the endpoint cannot stream
    }


def _instance_types(variant) -> str:
    pools = sorted(variant.get("InstancePools") or [], key=lambda pool: pool["Priority"])
    return " or ".join(p["InstanceType"] for p in pools) or variant.get("InstanceType", "n/a")


def parse_params(items) -> Dict[str, object]:
    """--param k=v: v as JSON when it parses (numbers, true, lists), else as a string."""
    params = {}
    for item in items or []:
        if "=" not in item:
            raise TargetError(f"--param {item!r} is not KEY=VALUE: pass e.g. temperature=0.7")
        key, value = item.split("=", 1)
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


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
        message = _parse(error.read())
        message = message.get("error", message) if isinstance(message, dict) else message
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
