"""parliament (an IAM policy linter, with the Service Authorization Reference's actions, resource
types and condition keys) over every synthesized IAM policy: the reference stacks and the
every-option production stack, with CloudFormation references resolved. A finding fails the test
unless it is acknowledged below, one by one, with its reason."""

import json
import warnings

from tests.support.cfn_resolve import resolve

with warnings.catch_warnings():  # parliament 1.6.4 imports pkg_resources, deprecated
    warnings.simplefilter("ignore")
    from parliament import analyze_policy_string

# (finding, logical id prefix of the policy) -> why it stays
ACKNOWLEDGED = {
    ("RESOURCE_STAR", "LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a"): (
        "CDK's LogRetention function puts and deletes retention policies on '*' "
        "(aws-cdk-lib aws_logs.LogRetention); the library's role, not ours"
    ),
}


def policy_documents(template):
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Policy":
            yield logical_id, properties["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                yield logical_id, policy["PolicyDocument"]


def findings(templates):
    for stack, template in templates.items():
        for logical_id, document in policy_documents(template):
            policy = analyze_policy_string(json.dumps(resolve(document, template)))
            for finding in policy.findings:
                yield stack, logical_id, finding


def acknowledged(logical_id, issue):
    return any(
        issue == known_issue and logical_id.startswith(prefix)
        for known_issue, prefix in ACKNOWLEDGED
    )


def test_every_policy_passes_parliament_or_is_acknowledged(all_templates):
    found = list(findings(all_templates))
    unexplained = [
        f"{stack} {logical_id}: {finding.issue} {finding.detail}"
        for stack, logical_id, finding in found
        if not acknowledged(logical_id, finding.issue)
    ]
    assert unexplained == []
    # every acknowledgement is still needed: a stale one would hide a new finding
    for issue, prefix in ACKNOWLEDGED:
        assert any(
            f.issue == issue and logical_id.startswith(prefix) for _, logical_id, f in found
        ), (issue, prefix)


def test_parliament_sees_the_policies_and_would_fail_a_mismatch(all_templates):
    documents = [doc for t in all_templates.values() for _, doc in policy_documents(t)]
    assert len(documents) > 30  # every function's, every endpoint's, the caller's
    # the gate can fail: an object action on a bucket ARN is a RESOURCE_MISMATCH
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b"}],
    }
    assert [f.issue for f in analyze_policy_string(json.dumps(bad)).findings] == [
        "RESOURCE_MISMATCH"
    ]
