"""Every argument of the public constructs and props is documented in its docstring, as CDK
libraries do: a new argument without a line fails here."""

from __future__ import annotations

import dataclasses
import inspect
import re

import lmi_constructs

SKIPPED = {"self", "cls", "scope", "id", "args", "kwargs", "kwds"}


def documented(doc: str) -> set:
    """Names that open an argument line: `name: ...` or `a, b: ...` (grouped)."""
    names = set()
    for match in re.finditer(r"^\s+((?:\w+, )*\w+):\s", doc, flags=re.MULTILINE):
        names.update(match.group(1).split(", "))
    return names


def signatures():
    for name in lmi_constructs.__all__:
        cls = getattr(lmi_constructs, name)
        if not inspect.isclass(cls) or issubclass(cls, (BaseException, lmi_constructs.Engine)):
            continue
        if dataclasses.is_dataclass(cls):
            fields = [f.name for f in dataclasses.fields(cls) if f.init]
            yield name, fields, cls.__doc__ or ""
        else:
            init = inspect.signature(cls.__init__).parameters
            yield name, list(init), (cls.__doc__ or "") + (cls.__init__.__doc__ or "")
        for attribute, value in vars(cls).items():
            function = getattr(value, "__func__", value)
            public = not attribute.startswith("_") and inspect.isfunction(function)
            if public and (
                isinstance(value, (staticmethod, classmethod)) or attribute == "add_model"
            ):
                parameters = list(inspect.signature(function).parameters)
                yield f"{name}.{attribute}", parameters, function.__doc__ or ""


def test_every_public_argument_has_a_line_in_the_docstring():
    missing = {
        name: sorted(set(parameters) - SKIPPED - documented(doc))
        for name, parameters, doc in signatures()
    }
    assert {name: left for name, left in missing.items() if left} == {}


def test_the_check_sees_the_constructs_and_their_factories():
    names = {name for name, _, _ in signatures()}
    assert {
        "LmiEndpoint",
        "LmiInferenceEndpoint.add_model",
        "ModelSource.from_hugging_face",
    } <= names
    assert {"HubWeights", "ContainerImage.lmi", "CopyScaling", "Capacity"} <= names
