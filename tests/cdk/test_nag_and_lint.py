"""cdk-nag AwsSolutions and cfn-lint on every synthesized template: zero findings."""

import json
from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint_file

from tests.support.lint import COMPONENT_REGIONS, LINT_IGNORED, LINT_REGIONS

from .template_queries import logical_id, only


def nag_report(assembly):
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    return next(p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions")


def test_reference_stacks_have_no_unacknowledged_findings(reference_assembly):
    report = nag_report(reference_assembly)
    assert report["conclusion"] == "success"
    assert report["violations"] == []


def test_acknowledgements_are_narrow_and_explained(reference_assembly):
    suppressed = [
        f
        for f in nag_report(reference_assembly)["suppressedViolations"]
        if f["acknowledgedAt"].startswith("BloomStack/")
    ]
    for finding in suppressed:
        assert len(finding["reason"]) > 40
    library = ("/Provider/", "/LogRetentionaae0aa3c5b4d4f87b02d85b201efdd8a/")
    ours = {
        (
            f["acknowledgedAt"].removeprefix("BloomStack/Endpoint/"),
            f["ruleName"].split("Resource::", 1)[1].rstrip("]"),
        )
        for f in suppressed
        if not any(part in f["acknowledgedAt"] for part in library)
    }
    template = reference_assembly.get_stack_by_name("BloomStack").template
    worker = logical_id(template, "AWS::Lambda::Function", "EndpointHubWeightsWorker")
    endpoint_logs = (
        "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/"
        f"Endpoints/{only(template, 'AWS::SageMaker::Endpoint')['EndpointName']}:*"
    )
    # the LmiWeights bucket, imported by its export name
    bucket_arn = "arn:<AWS::Partition>:s3:::LmiWeights-WeightsBucketName"
    repo_objects = f"{bucket_arn}/hub/microsoft/bloom-deepspeed-inference-int8/*"
    assert ours == {
        ("ExecutionRole/DefaultPolicy", "*"),
        # the endpoint's own log group (its name is fixed at synth); streams are per instance
        ("ExecutionRole/DefaultPolicy", endpoint_logs),
        # the endpoint reads the commit's prefix, known once the copy has resolved it
        (
            "ExecutionRole/DefaultPolicy",
            f"{bucket_arn}/<{logical_id(template, 'Custom::HubWeights')}.KeyPrefix>*",
        ),
        ("HubWeights/WorkerRole/DefaultPolicy", repo_objects),
        ("HubWeights/OnEventRole/DefaultPolicy", repo_objects),
        ("HubWeights/IsCompleteRole/DefaultPolicy", repo_objects),
        ("HubWeights/IsCompleteRole/DefaultPolicy", f"<{worker}.Arn>:*"),
    }
    # CDK's LogRetention function: its managed role, `*` for retention policies, and the
    # endpoint's own log group for DeleteLogGroup
    retention = {f["ruleName"] for f in suppressed if library[1] in f["acknowledgedAt"]}
    assert retention == {
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        "AwsSolutions-IAM5[Resource::*]",
        f"AwsSolutions-IAM5[Resource::{endpoint_logs}]",
    }
    framework = {
        f["ruleName"].split("[")[0] for f in suppressed if "/Provider/" in f["acknowledgedAt"]
    }
    assert framework == {
        "AwsSolutions-IAM4",
        "AwsSolutions-IAM5",
        "AwsSolutions-SF1",
        "AwsSolutions-SF2",
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
    assert [t.name for t in template_files] == [
        "BloomStack.template.json",
        "LmiWeights.template.json",
        "OptStack.template.json",
        "QwenStack.template.json",
    ]
    for template in template_files:
        regions = COMPONENT_REGIONS if template.name == "QwenStack.template.json" else LINT_REGIONS
        matches = lint_file(
            template, config=ManualArgs(regions=regions, ignore_checks=LINT_IGNORED)
        )
        assert not matches, f"{template.name}: " + "\n".join(str(match) for match in matches)


def test_inference_components_are_not_in_every_region(template_files):
    # Why QwenStack is linted in fewer regions: the resource schemas lack the type there, so a
    # deploy would fail; the README says to check the region first.
    [qwen] = [t for t in template_files if t.name == "QwenStack.template.json"]
    matches = lint_file(
        qwen, config=ManualArgs(regions=["ap-northeast-3"], ignore_checks=LINT_IGNORED)
    )
    assert {m.rule.id for m in matches} == {"E3006"}
    assert all("AWS::SageMaker::InferenceComponent" in m.message for m in matches)
