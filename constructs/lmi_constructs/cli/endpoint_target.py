"""Where `lmi invoke` and `lmi bench` send requests: a URL (`lmi local`), a SageMaker endpoint by
name, or the endpoint a deployed stack reports in its outputs."""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

# What the reference table reports about an endpoint; "n/a" where the target cannot say.
DESCRIPTION_KEYS = ("model", "engine", "precision", "parallel degree", "instance")


class TargetError(Exception):
    """The target cannot be reached or resolved; str() says what to do."""


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--stack", help="a deployed stack: its EndpointName output")
    target.add_argument("--endpoint", help="a SageMaker endpoint name")
    target.add_argument("--url", help="an HTTP server with /invocations, e.g. lmi local's "
                                      "http://127.0.0.1:8080")


@dataclass
class Target:
    name: str
    url: Optional[str] = None
    endpoint: Optional[str] = None
    description: Dict[str, str] = field(default_factory=dict)
    _runtime: object = None

    def invoke(self, payload) -> Tuple[int, object]:
        """(status, parsed body). Endpoint errors come back as their status and message."""
        body = json.dumps(payload).encode()
        if self.url:
            return _post(f"{self.url.rstrip('/')}/invocations", body)
        from botocore.exceptions import ClientError

        try:
            response = self._runtime.invoke_endpoint(EndpointName=self.endpoint, Body=body,
                                                     ContentType="application/json",
                                                     Accept="application/json")
        except ClientError as error:
            details = error.response.get("Error", {})
            status = error.response.get("OriginalStatusCode") or \
                error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
            message = error.response.get("OriginalMessage") or details.get("Message", str(error))
            return status, _parse(message.encode() if isinstance(message, str) else message)
        return 200, _parse(response["Body"].read())


def resolve_target(args: argparse.Namespace) -> Target:
    if args.url:
        return Target(name=args.url, url=args.url,
                      description={key: "n/a" for key in DESCRIPTION_KEYS})
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        name = args.endpoint or endpoint_from_stack(boto3.client("cloudformation"), args.stack)
        description = describe_endpoint(boto3.client("sagemaker"), name)
        return Target(name=name, endpoint=name, description=description,
                      _runtime=boto3.client("sagemaker-runtime"))
    except (BotoCoreError, ClientError) as error:
        raise TargetError(str(error)) from error


def endpoint_from_stack(cloudformation, stack: str) -> str:
    from botocore.exceptions import ClientError

    try:
        outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    except ClientError as error:
        raise TargetError(f"stack {stack}: {error.response['Error']['Message']}; deploy it "
                          "first, or pass --endpoint") from error
    names = [o["OutputValue"] for o in outputs if "EndpointName" in o["OutputKey"]]
    if len(names) != 1:
        raise TargetError(f"stack {stack} has {len(names)} EndpointName outputs: pass --endpoint "
                          f"with one of {names}" if names else
                          f"stack {stack} has no EndpointName output: is it an LmiEndpoint stack?")
    return names[0]


def describe_endpoint(sagemaker, name: str) -> Dict[str, str]:
    """The reference table's columns, read from the endpoint, its config and its model."""
    endpoint = sagemaker.describe_endpoint(EndpointName=name)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variant = config["ProductionVariants"][0]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    environment = model.get("PrimaryContainer", {}).get("Environment", {})
    return {
        "model": environment.get("OPTION_MODEL_ID") or environment.get("MODEL_S3_PREFIX", "n/a"),
        "engine": environment.get("OPTION_ENGINE", "n/a"),
        "precision": environment.get("OPTION_DTYPE", "n/a"),
        "parallel degree": environment.get("TENSOR_PARALLEL_DEGREE", "n/a"),
        "instance": f"{variant.get('InitialInstanceCount', 1)} x {variant.get('InstanceType', 'n/a')}",
    }


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


def _post(url: str, body: bytes) -> Tuple[int, object]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, _parse(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _parse(error.read())
    except urllib.error.URLError as error:
        raise TargetError(f"{url}: {error.reason}; is the server running (lmi local)?") from error


def _parse(data: bytes):
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
