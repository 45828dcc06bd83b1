"""What cfn-lint is run with, and why each ignored check is ignored."""

# Regions whose DLC account differs, so FindInMap is linted against more than one.
LINT_REGIONS = ["us-east-1", "eu-south-2", "ap-northeast-3"]
# W3005 (redundant DependsOn): CDK's lambda.Function always adds DependsOn on its role, including
# inside the Provider framework; harmless, and not ours to change.
# W6001 (an Output using ImportValue): the endpoint stacks' WeightsUri output joins the imported
# LmiWeights bucket name with the copy's commit prefix; it is not a re-export of the import, and
# it is the one place a user reads where the endpoint's weights are.
LINT_IGNORED = ["W3005", "W6001"]
# AWS::SageMaker::InferenceComponent is missing from cfn-lint's schemas for some regions (among
# them eu-south-2 and ap-northeast-3): QwenStack is linted where it can be deployed.
COMPONENT_REGIONS = ["us-east-1", "us-west-2", "eu-west-1"]
