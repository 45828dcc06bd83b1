"""Every synthesized SageMaker, Application Auto Scaling and CloudWatch resource, checked against
the API's input shapes in botocore (names, enums, patterns, lengths, ranges): the reference
stacks, the every-option production stack, and the inference-component options stack."""

from tests.support.api_shapes import CALLS, input_shape, problems, template_problems


def test_every_covered_resource_matches_its_api_shape(all_templates):
    checked_types = set()
    for stack, template in all_templates.items():
        found, checked = template_problems(template)
        assert found == [], stack
        checked_types |= set(checked)
    # the gate saw every kind it covers somewhere
    assert checked_types == set(CALLS), set(CALLS) - checked_types


def test_the_gate_fails_on_what_the_api_refuses():
    shape = input_shape(CALLS["AWS::SageMaker::EndpointConfig"])
    bad = {
        "ProductionVariants": [
            {
                "VariantName": "All_Traffic",  # the pattern allows no underscore
                "InstanceType": "ml.p3dn.24xlarge",  # not a ProductionVariantInstanceType
                "InitialInstanceCount": 0,
                "ContainerStartupHealthCheckTimeoutInSeconds": 4000,  # max 3600
                "VolumeSizeInGb": 10,  # misspelt member
            }
        ]
    }
    found = list(problems(shape, bad, "Config"))
    assert any("VariantName='All_Traffic': does not match" in p for p in found), found
    assert any("InstanceType=ml.p3dn.24xlarge: not one of" in p for p in found), found
    assert any("ContainerStartupHealthCheckTimeoutInSeconds=4000: outside" in p for p in found)
    assert any("VolumeSizeInGb: not a member" in p for p in found), found
