"""BloomStack and OptStack: snapshots plus the facts the reference deployment depends on."""

import pytest
from aws_cdk.assertions import Match, Template
from syrupy.extensions.json import JSONSnapshotExtension

from .template_queries import as_text, logical_id, only, policy_statements, resources_of

EXECUTION_ROLE = "EndpointExecutionRole"  # logical id prefix of the SageMaker role and its policy


@pytest.fixture
def json_snapshot(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_template_snapshot(templates, stack, json_snapshot):
    assert templates[stack] == json_snapshot


def environment(template):
    return only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Environment"]


def variant(template):
    return only(template, "AWS::SageMaker::EndpointConfig")["ProductionVariants"][0]


def copy_key_prefix(template):
    """The commit's prefix, as the copy resolves it at deploy time."""
    return {"Fn::GetAtt": [logical_id(template, "Custom::HubWeights"), "KeyPrefix"]}


@pytest.mark.parametrize(
    "stack, degree, instance_type",
    [("BloomStack", "8", "ml.p4d.24xlarge"), ("OptStack", "4", "ml.g5.24xlarge")],
)
def test_reference_parallel_degree_and_instance(templates, stack, degree, instance_type):
    template = Template.from_json(templates[stack])
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                # the Model reads the copy's prefix, so it is created only once weights are there
                "Environment": Match.object_like(
                    {
                        "TENSOR_PARALLEL_DEGREE": degree,
                        "MODEL_S3_PREFIX": copy_key_prefix(templates[stack]),
                    }
                ),
            }
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": instance_type})]},
    )
    # DJL 0.19/0.20 read no OPTION_* variables: engine, dtype etc. are in serving.properties
    assert not [key for key in environment(templates[stack]) if key.startswith("OPTION_")]


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_timeouts_and_no_volume_on_nvme(templates, stack):
    Template.from_json(templates[stack]).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {
                        "ModelDataDownloadTimeoutInSeconds": 2400,
                        "ContainerStartupHealthCheckTimeoutInSeconds": 2400,
                        "VolumeSizeInGB": Match.absent(),  # local NVMe: SageMaker refuses one
                    }
                )
            ]
        },
    )


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_weights_location_given_once(templates, stack):
    env = environment(templates[stack])
    assert "MODEL_S3_BUCKET" in env and "MODEL_S3_PREFIX" in env
    assert "OPTION_MODEL_ID" not in env  # the handler downloads; the container must not


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_image_from_region_mapping(templates, stack):
    template = templates[stack]
    mapping = template["Mappings"]["LmiDlcAccounts"]
    assert mapping["us-east-1"] == {"account": "763104351884"}
    assert mapping["cn-north-1"] == {"account": "727897471807"}
    image = as_text(only(template, "AWS::SageMaker::Model")["PrimaryContainer"]["Image"])
    assert '"Fn::FindInMap": ["LmiDlcAccounts", {"Ref": "AWS::Region"}, "account"]' in image
    assert '"Ref": "AWS::URLSuffix"' in image
    tag = {"BloomStack": "0.19.0-deepspeed0.7.3-cu113", "OptStack": "0.20.0-deepspeed0.7.5-cu116"}
    assert f"/djl-inference:{tag[stack]}" in image


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_model_data_is_the_code_asset(templates, stack):
    url = as_text(
        only(templates[stack], "AWS::SageMaker::Model")["PrimaryContainer"]["ModelDataUrl"]
    )
    assert "cdk-hnb659fds-assets" in url and url.endswith('.gz"}')


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_least_privilege_role(templates, stack):
    template = templates[stack]
    Template.from_json(template).has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})
                ]
            },
            "ManagedPolicyArns": Match.absent(),  # no AmazonSageMakerFullAccess
        },
    )
    statements = policy_statements(template, EXECUTION_ROLE)
    star = sorted(
        action
        for s in statements
        if s["Resource"] == "*"
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert star == ["cloudwatch:PutMetricData", "ecr:GetAuthorizationToken"]
    metric = next(s for s in statements if s["Action"] == "cloudwatch:PutMetricData")
    assert metric["Condition"] == {
        "StringLike": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints*"}
    }
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not [a for a in actions if a.endswith("*")]
    assert not [
        a for a in actions if a.startswith("s3:") and a not in ("s3:GetObject", "s3:ListBucket")
    ]


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_s3_reads_scoped_to_the_commit_prefix_and_code_object(templates, stack):
    statements = policy_statements(templates[stack], EXECUTION_ROLE)
    get = next(s for s in statements if s["Action"] == "s3:GetObject")
    resources = [as_text(r) for r in get["Resource"]]
    prefix = copy_key_prefix(templates[stack])
    bucket = {"Fn::ImportValue": "LmiWeights-WeightsBucketName"}  # the long-lived weights stack
    assert (
        as_text(
            {
                "Fn::Join": [
                    "",
                    ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", bucket, "/", prefix, "*"],
                ]
            }
        )
        in resources
    )
    assert any(".gz" in r and "*" not in r for r in resources)  # exactly the code object
    listing = next(s for s in statements if s["Action"] == "s3:ListBucket")
    assert listing["Condition"] == {
        "StringLike": {"s3:prefix": [{"Fn::Join": ["", [prefix, "*"]]}]}
    }


def test_ecr_pull_limited_to_djl_inference(templates):
    statements = policy_statements(templates["BloomStack"], EXECUTION_ROLE)
    pull = next(s for s in statements if "ecr:BatchGetImage" in s["Action"])
    assert as_text(pull["Resource"]).endswith(':repository/djl-inference"]]}')


@pytest.mark.parametrize("stack", ["BloomStack", "OptStack"])
def test_outputs_and_endpoint(templates, stack):
    template = templates[stack]
    outputs = template["Outputs"]
    assert any(key.startswith("EndpointEndpointName") for key in outputs)
    assert any(key.startswith("EndpointWeightsUri") for key in outputs)
    endpoint = only(template, "AWS::SageMaker::Endpoint")
    assert "EndpointConfigName" in endpoint


def test_model_waits_for_the_role_policy(templates):
    model = next(iter(resources_of(templates["BloomStack"], "AWS::SageMaker::Model").values()))
    policy_id = next(
        p
        for p in resources_of(templates["BloomStack"], "AWS::IAM::Policy")
        if p.startswith(EXECUTION_ROLE)
    )
    assert policy_id in model["DependsOn"]


def test_the_weights_live_in_a_long_lived_stack_of_their_own(reference_assembly, templates):
    weights = reference_assembly.get_stack_by_name("LmiWeights")
    buckets = resources_of(weights.template, "AWS::S3::Bucket")
    assert len(buckets) == 2  # the weights and their access logs, both retained
    assert all(
        b["DeletionPolicy"] == "Retain" == b["UpdateReplacePolicy"] for b in buckets.values()
    )
    [output] = weights.template["Outputs"].values()
    assert output["Export"] == {"Name": "LmiWeights-WeightsBucketName"}
    for name in ("BloomStack", "OptStack"):
        stack = reference_assembly.get_stack_by_name(name)
        # `cdk deploy BloomStack` deploys LmiWeights first; destroying BloomStack leaves it
        assert "LmiWeights" in [d.id for d in stack.dependencies]
        assert not resources_of(templates[name], "AWS::S3::Bucket")
        copy = only(templates[name], "Custom::HubWeights")
        assert copy["Bucket"] == {"Fn::ImportValue": "LmiWeights-WeightsBucketName"}
