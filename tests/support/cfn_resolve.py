"""CloudFormation values resolved to plausible literals, so a linter that reads IAM policies
(parliament) sees ARNs instead of intrinsic functions. Not a CloudFormation engine: each Ref and
GetAtt becomes the ARN or name the resource type returns (per the CloudFormation template
reference's "Return values" of each type), in one fixed account and region."""

from __future__ import annotations

import re

ACCOUNT, REGION, PARTITION = "111122223333", "us-east-1", "aws"
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "stack",
}
# Types whose Ref returns the ARN (CloudFormation template reference, "Return values").
REF_IS_ARN = {
    "AWS::SNS::Topic",
    "AWS::SecretsManager::Secret",
    "AWS::StepFunctions::StateMachine",
    "AWS::SageMaker::Endpoint",
}


def _arn(resource_type: str, name: str):
    return {
        "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        "AWS::Lambda::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
        "AWS::KMS::Key": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{name}",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
        "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}",
        "AWS::SecretsManager::Secret": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}",
        "AWS::StepFunctions::StateMachine": (
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        ),
        "AWS::SageMaker::Endpoint": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{name}",
        "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}",
    }.get(resource_type)


def resolve(value, template):
    """value with every intrinsic function of `template` replaced by a literal."""
    resources = template.get("Resources", {})
    if isinstance(value, list):
        return [resolve(item, template) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
        return {key: resolve(item, template) for key, item in value.items()}
    function, argument = next(iter(value.items()))
    name = None
    if function == "Ref":
        if argument in PSEUDO:
            return PSEUDO[argument]
        name = f"x-{argument.lower()}"
        kind = resources.get(argument, {}).get("Type")
        return _arn(kind, name) if kind in REF_IS_ARN else name
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        kind = resources.get(logical_id, {}).get("Type", "")
        arn = _arn(kind, f"x-{logical_id.lower()}") if attribute == "Arn" else None
        return arn or f"x-{logical_id.lower()}-{attribute.lower()}"
    if function == "Fn::Join":
        return argument[0].join(str(resolve(part, template)) for part in argument[1])
    if function == "Fn::Select":
        return resolve(argument[1], template)[int(argument[0])]
    if function == "Fn::Split":
        return str(resolve(argument[1], template)).split(argument[0])
    if function == "Fn::FindInMap":
        table, key, field = (resolve(part, template) for part in argument)
        return template["Mappings"][table][key][field]
    if function == "Fn::ImportValue":
        return f"x-import-{str(resolve(argument, template)).lower()}"
    if function == "Fn::Sub":
        text = argument if isinstance(argument, str) else argument[0]
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(resolve({"Ref": m.group(1)}, template)), text)
    raise ValueError(f"cannot resolve {function} (add it to tests/support/cfn_resolve.py)")
