"""cdk-nag acknowledgements and checkov skips, each on the narrowest finding with its reason."""

from __future__ import annotations

from typing import Optional

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations

from constructs import IConstruct

PACK = "AwsSolutions"
KMS_GRANT_REASON = (
    "CDK's KMS grant for the customer key: the action families cover one "
    "operation's variants, on that key only."
)


def default_policy(function) -> IConstruct:
    """The DefaultPolicy of a Lambda function's role, which CDK creates for our functions."""
    role = function.role
    assert role is not None, "our functions get their own role"
    return role.node.find_child("DefaultPolicy")


def acknowledge(
    construct: IConstruct, rule: str, reason: str, finding: Optional[str] = None
) -> None:
    """Acknowledge `AwsSolutions-<rule>` (optionally `[finding]`) on exactly this construct."""
    rule_id = f"{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    Validations.of(construct).acknowledge(Acknowledgment(id=f"{PACK}::{rule_id}", reason=reason))


def acknowledge_wildcard_resource(policy: IConstruct, resource: str, reason: str) -> None:
    """IAM5 for one wildcard resource, written the way cdk-nag prints it."""
    acknowledge(policy, "IAM5", reason, f"Resource::{nag_text(Stack.of(policy).resolve(resource))}")


def checkov_skip(construct: IConstruct, check_id: str, reason: str) -> None:
    """Skip one checkov check on exactly this resource, with its reason: the resource's
    CloudFormation Metadata `checkov: {skip: [{id, comment}]}`, as checkov reads it
    (https://www.checkov.io/2.Basics/Suppressing%20and%20Skipping%20Policies.html)."""
    cfn = construct if isinstance(construct, CfnResource) else construct.node.default_child
    assert isinstance(cfn, CfnResource), f"{construct.node.path} has no CloudFormation resource"
    skips = list((cfn.get_metadata("checkov") or {}).get("skip", []))
    if all(skip["id"] != check_id for skip in skips):
        skips.append({"id": check_id, "comment": reason})
    cfn.add_metadata("checkov", {"skip": skips})


LAMBDA_CHECKOV_REASONS = {
    "CKV_AWS_115": "Reserved concurrency: the function runs only while CloudFormation deploys "
    "its custom resource (the copier's fan-out is capped by max_parallel_workers); a "
    "reservation would take capacity from the account's pool for the life of the stack.",
    "CKV_AWS_116": "Dead-letter queue: a failure reaches CloudFormation through the custom "
    "resource (the Provider framework's response, or for a copy worker its status object, "
    "which the completion check retries or reports); a queue would hold what nobody reads.",
    "CKV_AWS_117": "VPC: the copier must reach the Hugging Face Hub and its CDN on the "
    "internet, the others call AWS APIs only; a VPC would add a NAT gateway for nothing else.",
    "CKV_AWS_173": "Environment encryption with a customer key: the variables hold names, "
    "ARNs and settings only; the Hub token stays in Secrets Manager.",
}


def checkov_skip_lambda(function: IConstruct, reasons=LAMBDA_CHECKOV_REASONS) -> None:
    """The Lambda checks a deploy-time custom-resource function does not need, with reasons."""
    for check_id, reason in reasons.items():
        checkov_skip(function, check_id, reason)


def checkov_skip_log_group(log_group: IConstruct) -> None:
    checkov_skip(
        log_group,
        "CKV_AWS_158",
        "Log group with a customer key: these functions log file names, sizes and progress, "
        "never the Hub token (tested); the AWS-managed encryption of CloudWatch Logs applies.",
    )


def role_policy(role) -> IConstruct:
    """Where a role's added statements live: "DefaultPolicy" (a created role) or "Policy"
    (an imported one)."""
    return role.node.try_find_child("DefaultPolicy") or role.node.try_find_child("Policy")


def acknowledge_kms_grant_wildcards(role, reason: str) -> None:
    """CDK's KMS grants name action families (kms:ReEncrypt*, kms:GenerateDataKey*) on one key."""
    policy = role_policy(role)
    if policy is not None:
        for action in ("kms:ReEncrypt*", "kms:GenerateDataKey*"):
            acknowledge(policy, "IAM5", reason, f"Action::{action}")


def nag_text(value) -> str:
    """cdk-nag's rendering of a resolved value: Ref -> <Name>, GetAtt -> <Name.Attr>."""
    return render_resolved(value, "<{}>")


def render_resolved(value, reference: str, unknown: Optional[str] = None) -> str:
    """A resolved CloudFormation value as text, each Ref/GetAtt written as reference.format(name).

    Raises ValueError on other intrinsics unless `unknown` is given to stand in for them.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return reference.format(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return reference.format(".".join(value["Fn::GetAtt"]))
    if isinstance(value, dict) and "Fn::ImportValue" in value:  # cdk-nag prints the export name
        return render_resolved(value["Fn::ImportValue"], reference, unknown)
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render_resolved(part, reference, unknown) for part in parts)
    if unknown is not None:
        return unknown
    raise ValueError(f"cannot render {value!r} as text")


def acknowledge_log_retention(scope: IConstruct, log_group_arn: str) -> None:
    """CDK's LogRetention singleton (one per stack): its role carries
    AWSLambdaBasicExecutionRole and puts retention policies on `*`; DeleteLogGroup is scoped to
    the group. The library's choices, acknowledged on exactly its resources."""
    singleton = Stack.of(scope).node.try_find_child("LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a")
    if singleton is None:
        return
    reason = (
        "CDK's LogRetention function (aws-cdk-lib aws_logs.LogRetention) sets the expiry "
        "of the endpoint's log group, which SageMaker creates; its role is the library's."
    )
    role = singleton.node.find_child("ServiceRole")
    acknowledge(
        role,
        "IAM4",
        reason,
        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    )
    policy = role.node.find_child("DefaultPolicy")
    acknowledge(policy, "IAM5", reason, "Resource::*")
    acknowledge_wildcard_resource(policy, log_group_arn, reason)
    checkov_skip(
        policy,
        "CKV_AWS_111",
        "CDK's LogRetention function puts retention policies with logs:PutRetentionPolicy on "
        "'*' (aws-cdk-lib aws_logs.LogRetention); the library's choice, on its own role.",
    )
    framework_reason = (
        "CDK's LogRetention function (aws-cdk-lib aws_logs.LogRetention): its settings are "
        "the library's; it runs only while CloudFormation deploys the log group's expiry."
    )
    function = singleton.node.find_child("Resource")
    for check_id in ("CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117"):
        checkov_skip(function, check_id, framework_reason)
