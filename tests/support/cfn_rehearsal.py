"""A deploy rehearsal: the custom resources' Lambda code, loaded from the synthesized assets in the
cloud assembly, driven through the event sequence CloudFormation and the CDK Provider framework
send, each function with exactly its synthesized role's policy (enforced by S3Gate), against
moto's S3 and the Hub emulation.

What is real here: the asset code, the IAM statements (intrinsics resolved to the values a deploy
gives them), the custom resource properties, the functions' environment (HF_ENDPOINT pointed at
the emulation), and the Provider framework's protocol: onEvent once, then isComplete every
query interval until it says complete, raises, or the total timeout passes ("Operation timed
out"), with the failure's message as the reason CloudFormation shows. Time is simulated: each
poll advances a clock by the query interval, and the functions read that clock. Worker Lambdas
invoked asynchronously by isComplete run between polls, with their own identity.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import itertools
import json
import logging
import os
import sys
import time as real_time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .iam import Policy, Resolver, functions_by_handler, role_policy
from .s3_gate import S3Gate

QUERY_INTERVAL_S = 30  # HubWeights' Provider query interval
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/rehearsal/1"
TOTAL_TIMEOUT_S = 3600  # the Provider's totalTimeout (and CloudFormation's custom resource hour)
_packages = itertools.count()


class Clock:
    """time.time / monotonic / sleep for the loaded runtime: sleeping advances it."""

    def __init__(self):
        self.now = real_time.time()

    def time(self) -> float:
        return self.now

    monotonic = time

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Outcome:
    status: str  # SUCCESS | FAILED
    physical_id: Optional[str] = None
    data: Dict[str, str] = field(default_factory=dict)
    reason: str = ""

    def __str__(self):
        return f"{self.status} {self.physical_id} {self.reason}".strip()


class LoadedFunction:
    """One Lambda function: its handler module from the asset, its identity, its environment."""

    def __init__(
        self,
        name: str,
        asset_dir: Path,
        handler: str,
        environment: Dict[str, str],
        key_id: str,
        gate: S3Gate,
        clock: Clock,
    ):
        self.name, self.handler_name, self.environment = name, handler, environment
        package = f"rehearsal_{name.lower()}_{next(_packages)}"
        spec = importlib.util.spec_from_file_location(
            package,
            asset_dir / "runtime" / "__init__.py",
            submodule_search_locations=[str(asset_dir / "runtime")],
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[package] = module
        spec.loader.exec_module(module)
        self.package = package
        module_name, self.function_name = handler.rsplit(".", 1)
        self.module = importlib.import_module(f"{package}.{module_name}")
        self.clients = importlib.import_module(f"{package}.aws_clients").CLIENTS
        for loaded in [m for n, m in sys.modules.items() if n.startswith(package + ".")]:
            if getattr(loaded, "time", None) is real_time:
                loaded.time = clock
        # The function's own credentials: its boto3 clients are made here, not from the
        # process environment, so each function runs as its own role.
        self.clients["s3"] = boto3.client(
            "s3",
            endpoint_url=gate.endpoint,
            aws_access_key_id=key_id,
            aws_secret_access_key="rehearsal",
            aws_session_token=None,
            region_name="us-east-1",
            config=Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32),
        )

    def __call__(self, event):
        with patched_environment(self.environment):
            return getattr(self.module, self.function_name)(event, None)


class FakeCloudFormation:
    """DescribeStacks for onEvent: authorized by its policy, answering the rehearsal's status."""

    def __init__(self, caller_policy: Policy, status):
        self.policy, self.status = caller_policy, status

    def describe_stacks(self, StackName):
        if not self.policy.allows("cloudformation:DescribeStacks", StackName):
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDenied",
                        "Message": "not authorized to perform: cloudformation:DescribeStacks",
                    }
                },
                "DescribeStacks",
            )
        return {"Stacks": [{"StackId": StackName, "StackStatus": self.status()}]}


class FakeLambda:
    """Lambda's asynchronous Invoke for isComplete: authorized by the caller's policy, queued."""

    def __init__(self, caller_policy: Policy, caller_role: str, functions: Dict[str, str]):
        self.policy, self.role, self.functions = caller_policy, caller_role, functions
        self.queue: List[dict] = []

    def invoke(self, FunctionName, InvocationType, Payload):
        arn = self.functions.get(FunctionName, FunctionName)
        if not self.policy.allows("lambda:InvokeFunction", arn):
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDeniedException",
                        "Message": f"User: {self.role} is not authorized to perform: "
                        f"lambda:InvokeFunction on resource: {arn} because no "
                        "identity-based policy allows the lambda:InvokeFunction action",
                    }
                },
                "Invoke",
            )
        assert InvocationType == "Event"
        self.queue.append(json.loads(Payload))
        return {"StatusCode": 202}


@contextlib.contextmanager
def patched_environment(values: Dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_function(
    assembly_dir: Path,
    template: dict,
    resolver: Resolver,
    gate: S3Gate,
    handler: str,
    clock: Clock,
    hub_endpoint: Optional[str] = None,
    without: Optional[str] = None,
) -> Tuple[LoadedFunction, Policy]:
    """runtime.<handler> from its asset, as its role (minus the `without` action)."""
    spec = functions_by_handler(template)[handler]
    properties = spec["properties"]
    policy = role_policy(template, properties["Role"]["Fn::GetAtt"][0], resolver)
    if without:
        policy = policy.without(without)
    environment = {
        k: str(v)
        for k, v in resolver(properties.get("Environment", {}).get("Variables", {})).items()
    }
    if hub_endpoint:
        environment["HF_ENDPOINT"] = hub_endpoint  # the emulation stands in for the Hub
    asset = assembly_dir / f"asset.{properties['Code']['S3Key'].split('.')[0]}"
    name = spec["logical_id"]
    return LoadedFunction(
        name, asset, handler, environment, gate.identity(name, policy), gate, clock
    ), policy


class CopyRehearsal:
    """HubWeights' three functions from one synthesized stack, ready to receive events."""

    NAMES = {
        "hub_weights.on_event": "OnEvent",
        "hub_weights.is_complete": "IsComplete",
        "hub_weights.worker": "Worker",
    }

    def __init__(
        self,
        assembly_dir: Path,
        template: dict,
        resolver: Resolver,
        gate: S3Gate,
        hub_endpoint: str,
        without: Optional[tuple] = None,
    ):
        """without: (function name, IAM action) to remove from that function's policy."""
        self.template, self.resolve, self.gate = template, resolver, gate
        self.clock = Clock()
        self.functions: Dict[str, LoadedFunction] = {}
        self.policies: Dict[str, Policy] = {}
        for handler, short in self.NAMES.items():
            removed = without[1] if without and without[0] == short else None
            self.functions[short], self.policies[short] = load_function(
                assembly_dir, template, resolver, gate, handler, self.clock, hub_endpoint, removed
            )
        worker = functions_by_handler(template)["hub_weights.worker"]["logical_id"]
        arns = {resolver.refs[worker]: resolver.attributes[(worker, "Arn")]}
        self.lambda_service = FakeLambda(self.policies["IsComplete"], "IsCompleteRole", arns)
        self.functions["IsComplete"].clients["lambda"] = self.lambda_service
        self.stack_status = "CREATE_IN_PROGRESS"  # what DescribeStacks answers onEvent
        self.functions["OnEvent"].clients["cloudformation"] = FakeCloudFormation(
            self.policies["OnEvent"], lambda: self.stack_status
        )

    # --- what CloudFormation sends, through the Provider framework --------------------------
    def create(self, properties: dict) -> Outcome:
        return self._run({"RequestType": "Create", "ResourceProperties": properties})

    def update(self, properties: dict, old_properties: dict, physical_id: str) -> Outcome:
        return self._run(
            {
                "RequestType": "Update",
                "ResourceProperties": properties,
                "OldResourceProperties": old_properties,
                "PhysicalResourceId": physical_id,
            }
        )

    def delete(self, properties: dict, physical_id: str) -> Outcome:
        return self._run(
            {
                "RequestType": "Delete",
                "ResourceProperties": properties,
                "PhysicalResourceId": physical_id,
            }
        )

    def _run(self, event: dict) -> Outcome:
        event = {
            **event,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": "EndpointHubWeightsCopy",
            "ResourceType": "Custom::HubWeights",
            "StackId": STACK_ID,
        }
        try:
            started = self.functions["OnEvent"](event)
        except Exception as error:  # the framework reports the message as the reason
            return Outcome("FAILED", event.get("PhysicalResourceId"), reason=_reason(error))
        physical_id = started.get("PhysicalResourceId", event.get("PhysicalResourceId"))
        event = {**event, "PhysicalResourceId": physical_id}
        deadline = self.clock.time() + TOTAL_TIMEOUT_S
        while True:
            try:
                answer = self.functions["IsComplete"](event)
            except Exception as error:
                return Outcome("FAILED", physical_id, reason=_reason(error))
            if answer.get("IsComplete"):
                data = {**started.get("Data", {}), **answer.get("Data", {})}
                return Outcome("SUCCESS", physical_id, data)
            self._run_workers()
            self.clock.advance(QUERY_INTERVAL_S)
            if self.clock.time() > deadline:
                return Outcome("FAILED", physical_id, reason="Operation timed out")

    def _run_workers(self) -> None:
        queued, self.lambda_service.queue = self.lambda_service.queue, []
        for payload in queued:
            try:
                self.functions["Worker"](payload)
            except Exception:  # an async invocation's error is Lambda's to log and retry
                logging.getLogger("rehearsal").exception("worker invocation failed")


def _reason(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def copy_properties(template: dict, resolver: Resolver) -> dict:
    """The Custom::HubWeights properties CloudFormation would send (ServiceToken dropped)."""
    [copy] = [r for r in template["Resources"].values() if r["Type"] == "Custom::HubWeights"]
    properties = resolver(copy["Properties"])
    properties.pop("ServiceToken", None)
    return properties


def physical_values(template: dict, stack: str, bucket: str) -> Resolver:
    """A Resolver with the names a deploy of `stack` would give: functions, roles, log groups,
    the imported weights bucket, the code asset bucket."""
    refs, attributes = {}, {}
    for logical_id, resource in template["Resources"].items():
        name = f"{stack}-{logical_id}"[:64]
        kind = resource["Type"]
        if kind == "AWS::Lambda::Function":
            refs[logical_id] = name
            attributes[(logical_id, "Arn")] = (
                f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
            )
        elif kind == "AWS::IAM::Role":
            refs[logical_id] = name
            attributes[(logical_id, "Arn")] = f"arn:aws:iam::123456789012:role/{name}"
        elif kind == "AWS::Logs::LogGroup":
            refs[logical_id] = f"/aws/lambda/{name}"
            attributes[(logical_id, "Arn")] = (
                f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/{name}:*"
            )
        elif kind in ("AWS::SageMaker::Endpoint", "AWS::SageMaker::Model"):
            refs[logical_id] = name
    refs["AWS::StackId"] = STACK_ID
    return Resolver(template, refs, attributes, imports={"LmiWeights-WeightsBucketName": bucket})
