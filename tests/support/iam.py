"""Identity-policy evaluation for the deploy rehearsal, and the CloudFormation intrinsics needed
to turn a synthesized policy into the document IAM would hold.

Evaluation follows the IAM User Guide ("Policy evaluation logic" for a single account and
identity policies only): an explicit Deny wins, else any Allow, else an implicit deny. Action
and Resource match case-insensitively (actions) and with `*` / `?` wildcards; a Condition
applies only when every operator matches, a key absent from the request context does not
match StringEquals or StringLike (no ...IfExists here), and several values of one key are ORed
("IAM JSON policy elements: Condition operators").

moto 5.2.5 enforces identity policies too, but evaluates S3 requests without their condition
context (moto/iam/access_control.py passes none), which turns every conditioned Allow into a
Deny; the prefix-scoped ListBucket grants this project relies on cannot be checked there, so
the rehearsal evaluates them here.
"""

from __future__ import annotations

import copy
import fnmatch
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

ALLOW, DENY, IMPLICIT = "allow", "deny", "implicit deny"


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)  # *, ? (and [..], which IAM policies never hold)


@dataclass
class Policy:
    """One identity's policy statements (already free of intrinsics)."""

    statements: List[dict] = field(default_factory=list)

    def evaluate(
        self, action: str, resource: str, context: Optional[Mapping[str, str]] = None
    ) -> str:
        context = context or {}
        allowed = False
        for statement in self.statements:
            if not self._applies(statement, action, resource, context):
                continue
            if statement["Effect"] == "Deny":
                return DENY
            allowed = True
        return ALLOW if allowed else IMPLICIT

    def allows(self, action: str, resource: str, context=None) -> bool:
        return self.evaluate(action, resource, context) == ALLOW

    @staticmethod
    def _applies(statement: dict, action: str, resource: str, context) -> bool:
        if not any(
            _like(pattern, action, case_sensitive=False)
            for pattern in _as_list(statement.get("Action", []))
        ):
            return False
        if not any(_like(pattern, resource) for pattern in _as_list(statement.get("Resource", []))):
            return False
        for operator, keys in (statement.get("Condition") or {}).items():
            for key, expected in keys.items():
                actual = context.get(key)
                if actual is None:
                    return False
                if operator == "StringEquals":
                    matched = any(actual == value for value in _as_list(expected))
                elif operator == "StringLike":
                    matched = any(_like(value, actual) for value in _as_list(expected))
                else:
                    raise NotImplementedError(f"condition operator {operator}: add it here")
                if not matched:
                    return False
        return True

    def without(self, action: str) -> "Policy":
        """This policy with `action` removed from every statement (empty statements dropped)."""
        statements = []
        for statement in copy.deepcopy(self.statements):
            actions = [a for a in _as_list(statement["Action"]) if a != action]
            if actions:
                statement["Action"] = actions
                statements.append(statement)
        return Policy(statements)

    def actions(self) -> List[str]:
        return sorted({a for s in self.statements for a in _as_list(s["Action"])})


class Resolver:
    """CloudFormation intrinsics of one template, with the physical values a deploy would give:
    `refs` (logical id -> Ref value), `attributes` ((logical id, attribute) -> value),
    `imports` (export name -> value) and the pseudo parameters."""

    def __init__(
        self,
        template: dict,
        refs: Mapping[str, str] = (),
        attributes: Mapping[Tuple[str, str], str] = (),
        imports: Mapping[str, str] = (),
        region: str = "us-east-1",
        account: str = "123456789012",
    ):
        self.template = template
        self.refs = {
            "AWS::Partition": "aws",
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::URLSuffix": "amazonaws.com",
            **dict(refs),
        }
        self.attributes = dict(attributes)
        self.imports = dict(imports)

    def __call__(self, value):
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {key: self(item) for key, item in value.items()}
        ((name, argument),) = value.items()
        if name == "Ref":
            return self._known(self.refs, argument, "Ref")
        if name == "Fn::GetAtt":
            return self._known(self.attributes, tuple(argument), "Fn::GetAtt")
        if name == "Fn::ImportValue":
            return self._known(self.imports, self(argument), "Fn::ImportValue")
        if name == "Fn::Join":
            separator, parts = argument
            return separator.join(str(self(part)) for part in self(parts))
        if name == "Fn::Select":
            index, items = argument
            return self(items)[int(self(index))]
        if name == "Fn::FindInMap":
            mapping, first, second = (self(part) for part in argument)
            return self.template["Mappings"][mapping][first][second]
        if name == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]
            for key, replacement in self.refs.items():
                text = text.replace("${" + key + "}", str(replacement))
            return text
        raise NotImplementedError(f"intrinsic {name}: add it to tests/support/iam.py")

    @staticmethod
    def _known(table, key, kind):
        if key not in table:
            raise KeyError(f"{kind} {key!r} has no value in this rehearsal: give it one")
        return table[key]


def role_policy(template: dict, role_logical_id: str, resolve: Resolver) -> Policy:
    """Every inline statement of the AWS::IAM::Policy resources attached to the role."""
    statements: List[dict] = []
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = resource["Properties"].get("Roles", [])
        if {"Ref": role_logical_id} in roles:
            statements += resolve(resource["Properties"]["PolicyDocument"]["Statement"])
    if not statements:
        raise KeyError(f"no policy is attached to {role_logical_id}")
    return Policy(statements)


def functions_by_handler(template: dict) -> Dict[str, dict]:
    """handler (module.function under runtime) -> {logical_id, properties} of our Lambdas."""
    found = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        handler = resource["Properties"].get("Handler", "")
        if handler.startswith("runtime."):
            found[handler[len("runtime.") :]] = {
                "logical_id": logical_id,
                "properties": resource["Properties"],
            }
    return found


def all_roles(template: dict) -> Iterable[str]:
    return [k for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
