"""cdk-nag AwsSolutions and cfn-lint on every synthesized template: zero findings."""

import json
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

# Regions whose DLC account differs, so FindInMap is linted against more than one.
LINT_REGIONS = ["us-east-1", "eu-south-2", "ap-northeast-3"]


def nag_report(assembly):
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    return next(p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions")


def test_reference_stacks_have_no_unacknowledged_findings(reference_assembly):
    report = nag_report(reference_assembly)
    assert report["conclusion"] == "success"
    assert report["violations"] == []


def test_acknowledgements_are_narrow_and_explained(reference_assembly):
    suppressed = nag_report(reference_assembly)["suppressedViolations"]
    assert suppressed, "expected the documented IAM5 acknowledgements"
    for finding in suppressed:
        assert finding["ruleName"].startswith("AwsSolutions-IAM5[Resource::"), finding["ruleName"]
        assert finding["acknowledgedAt"].endswith("/ExecutionRole/DefaultPolicy")
        assert len(finding["reason"]) > 40
    wildcards = {f["ruleName"].split("Resource::", 1)[1].rstrip("]") for f in suppressed}
    assert wildcards == {
        "*",
        "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/*",
        "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/Endpoints/*:*",
        "arn:<AWS::Partition>:s3:::lmi-weights-<AWS::AccountId>-<AWS::Region>/microsoft/bloom-deepspeed-inference-int8/*",
        "arn:<AWS::Partition>:s3:::lmi-weights-<AWS::AccountId>-<AWS::Region>/facebook/opt-30b/*",
    }


def test_the_pack_does_find_problems():
    # Guards the guard: an unlogged bucket must be reported, or the checks above prove nothing.
    app = App()
    stack = Stack(app, "Careless")
    s3.Bucket(stack, "NoLogs")
    report = AwsSolutionsChecks(app).validate_scope(stack)
    assert not report.success
    assert any("AwsSolutions-S1" in violation.rule_name for violation in report.violations)


def test_cfn_lint_clean(template_files):
    assert len(template_files) == 2
    for template in template_files:
        matches = lint_file(template, config=ManualArgs(regions=LINT_REGIONS))
        assert not matches, f"{template.name}: " + "\n".join(str(match) for match in matches)
