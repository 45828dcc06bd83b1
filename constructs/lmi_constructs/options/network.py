"""The Model in your VPC: subnets and security groups, and the ENI permissions SageMaker needs.

Where the container downloads the weights from S3 itself (our handler, vLLM given an s3:// id),
the subnets need a route to S3 (a gateway endpoint or NAT) and network isolation, which cuts that
route, is refused; where SageMaker fetches them (ModelDataSource), isolation is allowed. Nothing
else is fetched at start: the handler uses only what the image ships.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Optional, Sequence

from aws_cdk import Annotations, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

# What SageMaker does with the execution role to attach the model to the subnets, each action on
# the resources and with the condition keys the Service Authorization Reference lists for it
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html, as
# parliament 1.6.4's iam_definition.json records it): CreateNetworkInterface is authorised per
# resource (network-interface, subnet, security-group) and ec2:Vpc exists only on the subnet and
# the group, so those are named by ARN; the other interface actions carry ec2:Vpc on the
# interface itself. The Describe* actions have no resource-level permissions.
ENI_ACTIONS_ON_VPC = [
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
]
ENI_DESCRIBE_ACTIONS = [
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
]


def grant_network_interfaces(
    role: iam.IRole, vpc: ec2.IVpc, subnet_ids: Sequence[str], group_ids: Sequence[str]
) -> None:
    """The EC2 network-interface permissions, held to this VPC, its chosen subnets and groups."""
    stack = Stack.of(role)

    def arn(resource: str, name: str) -> str:
        return stack.format_arn(service="ec2", resource=resource, resource_name=name)

    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ec2:CreateNetworkInterface"],
            resources=[
                arn("network-interface", "*"),
                *(arn("subnet", subnet) for subnet in subnet_ids),
                *(arn("security-group", group) for group in group_ids),
            ],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=ENI_ACTIONS_ON_VPC,
            resources=[arn("network-interface", "*")],
            conditions={"ArnEquals": {"ec2:Vpc": vpc.vpc_arn}},
        )
    )
    # The permission's interface is not a required resource of this action: where the request
    # names none the key is absent, so IfExists (a present ec2:Vpc must still be this VPC).
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ec2:DeleteNetworkInterfacePermission"],
            resources=["*"],
            conditions={"ArnEqualsIfExists": {"ec2:Vpc": vpc.vpc_arn}},
        )
    )
    role.add_to_principal_policy(iam.PolicyStatement(actions=ENI_DESCRIBE_ACTIONS, resources=["*"]))


@dataclass(frozen=True)
class VpcPlacement:
    """The model containers in your VPC. Both endpoint shapes take it as their vpc, vpc_subnets
    and security_groups props.

    Args:
        vpc: the VPC; its subnets need a route to S3 where the container downloads the weights
            (a gateway endpoint or NAT: synth warns when it sees none).
        subnets: which subnets. Default: the VPC's private ones.
        security_groups: the groups of the model's network interfaces. Default: one made here,
            no inbound (SageMaker invokes through its own plane), all outbound.
    """

    vpc: ec2.IVpc
    subnets: Optional[ec2.SubnetSelection] = None
    security_groups: Optional[Sequence[ec2.ISecurityGroup]] = None

    def bind(self, scope: Construct, role: iam.IRole) -> "BoundNetwork":
        """Choose the subnets, make the group when none is given (in scope, "SecurityGroup"),
        grant role the network-interface actions held to them, warn without a route to S3."""
        s3_route_warning(scope, self.vpc)
        own_group = None
        groups = list(self.security_groups or [])
        if not groups:
            own_group = ec2.SecurityGroup(
                scope,
                "SecurityGroup",
                vpc=self.vpc,
                allow_all_outbound=True,
                description="LMI endpoint: no inbound (SageMaker invokes through its own plane), "
                "outbound for S3 and the container dependencies",
            )
            groups = [own_group]
        subnets = self.subnets
        # SubnetSelection is a jsii struct; select_subnets takes its fields as keywords.
        selection = {
            name: getattr(subnets, name)
            for name in (
                "availability_zones",
                "one_per_az",
                "subnet_filters",
                "subnet_group_name",
                "subnets",
                "subnet_type",
            )
            if subnets is not None and getattr(subnets, name) is not None
        }
        selected = self.vpc.select_subnets(**selection)  # default: the private subnets
        group_ids = [group.security_group_id for group in groups]
        grant_network_interfaces(role, self.vpc, selected.subnet_ids, group_ids)
        return BoundNetwork(list(selected.subnet_ids), group_ids, own_group)


@dataclass(frozen=True)
class BoundNetwork:
    """The chosen subnets and groups, as the Model and the endpoint config take them."""

    subnet_ids: List[str]
    group_ids: List[str]
    own_group: Optional[ec2.SecurityGroup]

    def model_config(self) -> sagemaker.CfnModel.VpcConfigProperty:
        return sagemaker.CfnModel.VpcConfigProperty(
            security_group_ids=self.group_ids, subnets=self.subnet_ids
        )

    def endpoint_config_config(self) -> sagemaker.CfnEndpointConfig.VpcConfigProperty:
        return sagemaker.CfnEndpointConfig.VpcConfigProperty(
            security_group_ids=self.group_ids, subnets=self.subnet_ids
        )

    def hold_release(self, scope: Construct, endpoint: Construct) -> None:
        """Delete the group made here only once SageMaker has let go of its interfaces."""
        if self.own_group is not None:
            release = NetworkRelease(scope, "NetworkRelease", group=self.own_group)
            endpoint.node.add_dependency(release)


def s3_route_warning(scope: Construct, vpc: ec2.IVpc) -> None:
    """Warn at synth when the VPC has no S3 gateway endpoint this app can see: without one (or a
    NAT route) the container cannot download its weights and the endpoint never starts."""
    if any(_is_s3_gateway(child) for child in vpc.node.children):
        return
    Annotations.of(scope).add_warning_v2(
        "lmi:vpc-s3-route",
        f"vpc {vpc.node.path}: no S3 gateway endpoint found in this app. The weights are read "
        "from S3 when a model starts (by the container itself, or by SageMaker with "
        "sagemaker_fetches_weights, which the docs do not say bypasses the VPC); without a route "
        "to S3 the model fails the health check after container_startup_health_check_timeout. "
        "Add vpc.add_gateway_endpoint('S3', service=ec2.GatewayVpcEndpointAwsService.S3), or "
        "make sure the subnets route to S3 "
        "through a NAT gateway",
    )


def _is_s3_gateway(child) -> bool:
    if not isinstance(child, ec2.GatewayVpcEndpoint):
        return False
    cfn = child.node.default_child
    service = (
        Stack.of(child).resolve(cfn.service_name) if isinstance(cfn, ec2.CfnVPCEndpoint) else None
    )
    return ".s3" in json.dumps(service)


class NetworkRelease(Construct):
    """Holds the deletion of the security group LmiEndpoint made until SageMaker has released its
    network interfaces (runtime/network_release.py): the endpoint depends on this, this on the
    group, so CloudFormation deletes the endpoint, waits here, then deletes the group."""

    def __init__(self, scope: Construct, id: str, *, group: ec2.SecurityGroup):
        super().__init__(scope, id)
        from aws_cdk import Duration

        from ..lambda_functions import Handler, custom_resource
        from ..security import nag

        self.resource, _, released = custom_resource(
            self,
            "Custom::LmiNetworkRelease",
            {"SecurityGroupId": group.security_group_id},
            on_event=Handler(
                "Start",
                "network_release.on_event",
                Duration.minutes(1),
                128,
                "Names the wait for the endpoint's interfaces",
            ),
            is_complete=Handler(
                "Check",
                "network_release.is_complete",
                Duration.minutes(1),
                128,
                "Checks the endpoint's interfaces are gone",
            ),
            query_interval=Duration.seconds(30),
            total_timeout=Duration.hours(1),
        )
        assert released is not None, "is_complete was given"
        released.add_to_role_policy(
            iam.PolicyStatement(actions=["ec2:DescribeNetworkInterfaces"], resources=["*"])
        )
        nag.acknowledge_wildcard_resource(
            nag.default_policy(released),
            "*",
            "ec2:DescribeNetworkInterfaces supports no resource-level permissions (EC2 "
            "authorization reference); it only reads which interfaces use the group.",
        )
