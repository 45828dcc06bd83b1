"""cdk-nag AwsSolutions and cfn-lint on every synthesized template: zero findings."""

import json
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

# Regions whose DLC account differs, so FindInMap is linted against more than one.
LINT_REGIONS = ["us-east-1", "eu-south-2", "ap-northeast-3"]
# W3005 (redundant DependsOn): CDK's lambda.Function always adds DependsOn on its role, including
# inside the Provider framework; harmless, and not ours to change.
LINT_IGNORED = ["W3005"]


def nag_report(assembly):
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    return next(p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions")


def test_reference_stacks_have_no_unacknowledged_findings(reference_assembly):
    report = nag_report(reference_assembly)
    assert report["conclusion"] == "success"
    assert report["violations"] == []


def test_acknowledgements_are_narrow_and_explained(reference_assembly):
    suppressed = [f for f in nag_report(reference_assembly)["suppressedViolations"]
                  if f["acknowledgedAt"].startswith("BloomStack/")]
    for finding in suppressed:
        assert len(finding["reason"]) > 40
    ours = {(f["acknowledgedAt"].removeprefix("BloomStack/Endpoint/"),
             f["ruleName"].split("Resource::", 1)[1].rstrip("]"))
            for f in suppressed if "/Provider/" not in f["acknowledgedAt"]}
    repo_objects = "<EndpointWeightsBucketD0FB2E9F.Arn>/hub/microsoft/bloom-deepspeed-inference-int8/*"
    assert ours == {
        ("ExecutionRole/DefaultPolicy", "*"),
        # the endpoint's own log group (its name is fixed at synth); streams are per instance
        ("ExecutionRole/DefaultPolicy", "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:"
                                        "log-group:/aws/sagemaker/Endpoints/BloomStack-Endpoint-BBEA5276:*"),
        # the endpoint reads the commit's prefix, known once the copy has resolved it
        ("ExecutionRole/DefaultPolicy",
         "<EndpointWeightsBucketD0FB2E9F.Arn>/<EndpointHubWeightsCopyAAFD5757.KeyPrefix>*"),
        ("HubWeights/WorkerRole/DefaultPolicy", repo_objects),
        ("HubWeights/OnEventRole/DefaultPolicy", repo_objects),
        ("HubWeights/IsCompleteRole/DefaultPolicy", repo_objects),
        ("HubWeights/IsCompleteRole/DefaultPolicy", "<EndpointHubWeightsWorkerEA252E33.Arn>:*"),
    }
    framework = {f["ruleName"].split("[")[0] for f in suppressed if "/Provider/" in f["acknowledgedAt"]}
    assert framework == {"AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-SF1",
                         "AwsSolutions-SF2"}


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
        matches = lint_file(template, config=ManualArgs(regions=LINT_REGIONS, ignore_checks=LINT_IGNORED))
        assert not matches, f"{template.name}: " + "\n".join(str(match) for match in matches)
