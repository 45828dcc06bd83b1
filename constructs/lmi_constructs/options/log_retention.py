"""An expiry on a log group SageMaker creates (an endpoint's, an inference component's), through
CDK's LogRetention (which creates the group when it does not exist yet), deleted with the stack."""

from __future__ import annotations

from aws_cdk import ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_logs as logs

from constructs import Construct

from ..security import nag


def sagemaker_log_retention(
    scope: Construct, id: str, log_group_name: str, retention: logs.RetentionDays
) -> logs.LogRetention:
    """LogRetention on log_group_name, its CDK function's findings acknowledged on that group."""
    retained = logs.LogRetention(
        scope,
        id,
        log_group_name=log_group_name,
        retention=retention,
        removal_policy=RemovalPolicy.DESTROY,
    )
    nag.acknowledge_log_retention(
        scope,
        Stack.of(scope).format_arn(
            service="logs",
            resource="log-group",
            resource_name=f"{log_group_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        ),
    )
    return retained
