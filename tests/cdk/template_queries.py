"""Small queries over synthesized CloudFormation templates."""

import json


def resources_of(template, resource_type):
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == resource_type
    }


def logical_id(template, resource_type, starting_with: str = "") -> str:
    """The logical id of the one resource of that type (whose id starts with the readable part
    given): tests name resources by what they are, never by CDK's hash suffix."""
    found = [k for k in resources_of(template, resource_type) if k.startswith(starting_with)]
    assert len(found) == 1, f"expected one {resource_type} {starting_with}, found {found}"
    return found[0]


def only(template, resource_type):
    found = list(resources_of(template, resource_type).values())
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]["Properties"]


def policy_statements(template, logical_id_prefix: str = ""):
    """Statements of every AWS::IAM::Policy whose logical id starts with the prefix."""
    return [
        statement
        for logical_id, policy in resources_of(template, "AWS::IAM::Policy").items()
        if logical_id.startswith(logical_id_prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def as_text(value) -> str:
    return json.dumps(value, sort_keys=True)
