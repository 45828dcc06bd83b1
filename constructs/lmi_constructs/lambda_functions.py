"""This library's Lambda functions (their code is runtime/), and the CDK Provider framework
around them.

Each function gets its own log group and a role that may write only there (no
AWSLambdaBasicExecutionRole); the Provider framework's own resources are acknowledged by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

from aws_cdk import CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr

from constructs import Construct

from .security import nag

PACKAGE_DIR = Path(__file__).resolve().parent
RUNTIME = lambda_.Runtime.PYTHON_3_14
CODE_PACKAGE = "runtime"


def lambda_function(
    scope: Construct,
    id: str,
    handler: str,
    timeout: Duration,
    memory: int,
    environment,
    description: str,
) -> lambda_.Function:
    """runtime.<handler> (module.function) with its own log group and a role that may write
    only there."""
    owner = type(scope).__name__
    log_group = logs.LogGroup(
        scope,
        f"{id}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    role = iam.Role(
        scope,
        f"{id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{owner} {id}: {description}",
    )
    function = lambda_.Function(
        scope,
        id,
        runtime=RUNTIME,
        architecture=lambda_.Architecture.ARM_64,
        handler=f"{CODE_PACKAGE}.{handler}",
        code=runtime_code(),
        timeout=timeout,
        memory_size=memory,
        environment=environment,
        role=role,
        log_group=log_group,
        description=f"{owner}: {description}",
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group.log_group_arn}"],
        )
    )
    nag.acknowledge_wildcard_resource(
        role.node.find_child("DefaultPolicy"),
        log_group.log_group_arn,
        "Lambda names its log streams at run time; the grant is this function's own group.",
    )
    nag.checkov_skip_lambda(function)
    nag.checkov_skip_log_group(log_group)
    return function


@dataclass(frozen=True)
class Handler:
    """One of a custom resource's functions: its construct id, runtime.<module.function>,
    its timeout and memory (MB), and what it does (the function's description)."""

    id: str
    entry: str
    timeout: Duration
    memory_mb: int
    description: str


def custom_resource(
    scope: Construct,
    resource_type: str,
    properties: Dict[str, str],
    on_event: Handler,
    is_complete: Optional[Handler] = None,
    **provider_options,
) -> Tuple[CustomResource, lambda_.Function, Optional[lambda_.Function]]:
    """A custom resource of ours: its function(s) in runtime/, the Provider framework
    around them ("Provider") and the resource itself ("Resource"), under scope. Returns the
    resource and the on_event and is_complete functions (grant them what they call)."""

    def function(handler: Handler) -> lambda_.Function:
        return lambda_function(
            scope,
            handler.id,
            handler.entry,
            handler.timeout,
            handler.memory_mb,
            {},
            handler.description,
        )

    started = function(on_event)
    completed = function(is_complete) if is_complete else None
    framework = provider(
        scope,
        "Provider",
        on_event_handler=started,
        **({"is_complete_handler": completed} if completed else {}),
        **provider_options,
    )
    resource = CustomResource(
        scope,
        "Resource",
        service_token=framework.service_token,
        resource_type=resource_type,
        properties=properties,
    )
    return resource, started, completed


def runtime_code() -> lambda_.Code:
    """Only the runtime/ package of lmi_constructs: stdlib, boto3 and urllib3 come with
    Lambda."""
    return lambda_.Code.from_asset(
        str(PACKAGE_DIR),
        exclude=[
            "*",
            f"!{CODE_PACKAGE}",
            f"!{CODE_PACKAGE}/*.py",
            f"!{CODE_PACKAGE}/copier",
            f"!{CODE_PACKAGE}/copier/*.py",
            "**/__pycache__",
        ],
    )


def provider(scope: Construct, id: str, **options) -> cr.Provider:
    """The CDK Provider framework with its own functions' logs kept a month in a group of this
    stack (by default they go to groups without expiry that outlive the stack), and its
    cdk-nag findings acknowledged."""
    log_group = logs.LogGroup(
        scope,
        f"{id}Logs",
        retention=logs.RetentionDays.ONE_MONTH,
        removal_policy=RemovalPolicy.DESTROY,
    )
    framework = cr.Provider(scope, id, log_group=log_group, **options)
    nag.checkov_skip_log_group(log_group)
    handlers = [options[k] for k in ("on_event_handler", "is_complete_handler") if options.get(k)]
    _acknowledge_provider_framework(framework, handlers)
    return framework


def _acknowledge_provider_framework(provider: cr.Provider, handlers) -> None:
    """The Provider framework's own functions, roles and state machine: not ours to change.

    Each finding is acknowledged by name: its functions invoke ours (and each other) by
    `<function arn>:*`, and its roles carry AWSLambdaBasicExecutionRole.
    """
    reason = (
        "CDK Provider framework resource (aws-cdk-lib custom_resources): its roles, "
        "runtime and state machine are set by the framework, not by this library."
    )
    parts = provider.node.find_all()
    functions = [*handlers, *(c for c in parts if isinstance(c, lambda_.Function))]
    for construct in parts:
        if isinstance(construct, iam.Policy):
            for function in functions:
                nag.acknowledge_wildcard_resource(construct, f"{function.function_arn}:*", reason)
        elif isinstance(construct, iam.Role):
            nag.acknowledge(
                construct,
                "IAM4",
                reason,
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole",
            )
        if isinstance(construct, lambda_.Function):
            nag.checkov_skip_lambda(
                construct, {check: reason for check in nag.LAMBDA_CHECKOV_REASONS}
            )
        if isinstance(construct, lambda_.Function) or construct.node.id == "waiter-state-machine":
            for rule in ("L1", "SF1", "SF2"):
                nag.acknowledge(construct, rule, reason)
