"""The SageMaker execution role: pull one image repository, write its own logs and metrics, and
write where an option sends its output (grant_write_prefix).

Weights and code grants are added by ModelSource.bind and ModelCode.bind, each on exactly the
prefix or object it needs. No AmazonSageMakerFullAccess.
"""

from __future__ import annotations

from typing import Optional

from aws_cdk import Aws, Stack
from aws_cdk import aws_iam as iam

from constructs import Construct

from ..container.container_image import ResolvedImage
from ..weights.s3_paths import parse_s3_uri
from . import nag


def create_execution_role(scope: Construct, id: str) -> iam.Role:
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
        description="LMI endpoint execution role: weights prefix, code object, one "
        "ECR repository, its own logs and metrics",
    )


def depend_on_role_policies(resource: Construct, role: iam.IRole) -> None:
    """CreateModel checks image access with the role: create the role's policies first."""
    for child in role.node.children:
        if isinstance(child, iam.Policy):
            resource.node.add_dependency(child)


def grant_runtime(role: iam.IRole, image: ResolvedImage, endpoint_name: Optional[str]) -> None:
    """Image pull, logs and metrics, each scoped as tightly as the service allows."""
    stack = Stack.of(role)
    if image.repository_arn:
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=[
                    "ecr:BatchGetImage",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchCheckLayerAvailability",
                ],
                resources=[image.repository_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["ecr:GetAuthorizationToken"], resources=["*"])
        )
    log_group = _log_group_arn(stack, endpoint_name)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
            ],
            resources=[log_group, f"{log_group}:*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints*"}},
        )
    )


# Inference components publish utilization metrics in their own namespace ("the
# /aws/sagemaker/InferenceComponents namespace (utilization metrics)": SageMaker Developer Guide,
# monitoring-cloudwatch-enhanced-metrics.html), and AWS's samples read a component's container
# logs from /aws/sagemaker/InferenceComponents/<component name> (aws-samples/
# sagemaker-genai-hosting-examples, multi_adapter_hosting.ipynb); the Developer Guide's log table
# (logging-cloudwatch.html) does not list that group yet, so both are granted, each by name.
COMPONENT_LOG_GROUP = "/aws/sagemaker/InferenceComponents"


def grant_component_runtime(role: iam.IRole, component_name: str) -> None:
    """Logs in the component's own group and metrics in the components' namespace."""
    log_group = _log_group_arn(Stack.of(role), component_name, COMPONENT_LOG_GROUP)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group, f"{log_group}:*"],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": f"{COMPONENT_LOG_GROUP}*"}},
        )
    )
    policy = nag.role_policy(role)
    if policy is not None:
        nag.acknowledge_wildcard_resource(
            policy,
            f"{log_group}:*",
            "SageMaker names a component's log streams at run time; the grant stops at the "
            "component's own log group.",
        )


def acknowledge_runtime_wildcards(
    role: iam.IRole, endpoint_name: Optional[str], weights_objects_arn: str, in_vpc: bool = False
) -> None:
    """Each wildcard the services force on us, named and explained on the role's policy."""
    policy = nag.role_policy(role)
    if policy is None:  # an immutable imported role: nothing of ours was added
        return
    nag.acknowledge_wildcard_resource(
        policy,
        "*",
        "ecr:GetAuthorizationToken and cloudwatch:PutMetricData have no resource-level "
        "permissions; PutMetricData is held to SageMaker's namespace by a condition."
        + (
            " In a VPC, so do the EC2 Describe* actions SageMaker needs to attach the model to "
            "the subnets, and ec2:DeleteNetworkInterfacePermission, held to the VPC by an "
            "ec2:Vpc condition where the request names an interface."
            if in_vpc
            else ""
        ),
    )
    log_group = _log_group_arn(Stack.of(role), endpoint_name)
    reason = (
        "SageMaker creates one log stream per variant and instance at run time, so the "
        "streams cannot be named in advance"
    )
    if endpoint_name is None:
        reason += (
            "; the endpoint name is generated by CloudFormation, pass endpoint_name to "
            "scope the log group"
        )
        nag.acknowledge_wildcard_resource(policy, log_group, reason + ".")
    nag.acknowledge_wildcard_resource(policy, f"{log_group}:*", reason + ".")
    if in_vpc:
        nag.acknowledge_wildcard_resource(
            policy,
            Stack.of(role).format_arn(
                service="ec2", resource="network-interface", resource_name="*"
            ),
            "SageMaker creates the model's network interfaces at run time, so they cannot be "
            "named; creating one also needs the chosen subnet and group (named by ARN), and "
            "the other interface actions are held to the VPC by an ec2:Vpc condition.",
        )
    nag.acknowledge_wildcard_resource(
        policy,
        weights_objects_arn,
        "The container reads every object under the weights prefix (shards, config, tokenizer); "
        "the wildcard stops at that prefix.",
    )


def _log_group_arn(
    stack: Stack, name: Optional[str], family: str = "/aws/sagemaker/Endpoints"
) -> str:
    return (
        f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:"
        f"log-group:{family}/{name or '*'}"
    )


def grant_write_prefix(role: iam.IRole, uri: str, field: str) -> None:
    """s3:PutObject under the URI's prefix, nothing else: where SageMaker writes for the role."""
    grant_prefix(role, uri, field, "s3:PutObject", "SageMaker names the objects it writes")


def grant_read_prefix(role: iam.IRole, uri: str, field: str) -> None:
    """s3:GetObject under the URI's prefix, nothing else: what SageMaker reads for the role."""
    grant_prefix(role, uri, field, "s3:GetObject", "callers name the objects SageMaker reads")


def grant_prefix(principal: iam.IGrantable, uri: str, field: str, action: str, why: str) -> None:
    """One S3 object action under the URI's prefix, acknowledged on the principal's policy."""
    bucket, prefix = parse_s3_uri(uri, field)
    objects = f"arn:{Aws.PARTITION}:s3:::{bucket}/{prefix}*"
    iam.Grant.add_to_principal(grantee=principal, actions=[action], resource_arns=[objects])
    # a role or user has a policy of ours to note the wildcard on; a service principal none
    role = principal.grant_principal
    policy = nag.role_policy(role) if hasattr(role, "node") else None
    if policy is not None:
        nag.acknowledge_wildcard_resource(
            policy,
            objects,
            f"{why} for {field} at run time; the wildcard stops at the given prefix and "
            f"allows only {action}.",
        )
