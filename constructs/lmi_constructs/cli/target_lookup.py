"""Finding where `lmi invoke` and `lmi bench` send requests, from their arguments: a URL, a
SageMaker endpoint by name, or the endpoint a deployed stack reports in its outputs; and what
the endpoint says about itself (model, engine, precision, parallel degree, instance)."""

from __future__ import annotations

import argparse
import json
from typing import Dict, Optional, Tuple

from ..spec import model_tags
from .aws_setup import explain
from .errors import TargetError
from .target import CLIENT_READ_TIMEOUT_S, Target

# What the reference table reports about an endpoint; "n/a" where the target cannot say.
DESCRIPTION_KEYS = ("model", "engine", "precision", "parallel degree", "instance")


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


def resolve_target(args: argparse.Namespace) -> Target:
    component = getattr(args, "inference_component", None)
    if args.url:
        return Target(
            name=args.url,
            url=args.url,
            inference_component=component,
            description=describe_url(args.url),
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


def describe_url(url: str) -> Dict[str, str]:
    """What `lmi local` says about itself in its GET /ping headers (X-Lmi-Local-Engine,
    X-Lmi-Local-Model); "n/a" for a server that does not say (a real container) or does not
    answer (the request that follows reports that)."""
    import urllib.error
    import urllib.request

    description = {key: "n/a" for key in DESCRIPTION_KEYS}
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/ping", timeout=10) as response:
            headers = response.headers
    except (urllib.error.URLError, OSError, ValueError):
        return description
    engine, model = headers.get("X-Lmi-Local-Engine"), headers.get("X-Lmi-Local-Model")
    if engine:
        description.update(engine=engine, instance="lmi local (CPU)")
    if model:
        description["model"] = model
    return description


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
        "model": tags.get(model_tags.MODEL_ID)
        or environment.get("OPTION_MODEL_ID")
        or environment.get("MODEL_S3_PREFIX", "n/a"),
        "engine": tags.get(model_tags.ENGINE, "n/a"),
        "precision": tags.get(model_tags.DTYPE, "n/a"),
        "parallel degree": tags.get(model_tags.TENSOR_PARALLEL_DEGREE)
        or environment.get("TENSOR_PARALLEL_DEGREE", "n/a"),
        "instance": instance,
        "streaming": tags.get(model_tags.STREAMING, "n/a"),  # "false": the endpoint cannot stream
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
