"""A small stand-in for DJL Serving's `djl_python` Input/Output API (not published on PyPI), used
only when the real module is absent. It follows djl_python's own input.py and outputs.py
(deepjavalibrary/djl-serving, engines/python/setup/djl_python): Input.is_empty,
get_properties, get_property, get_as_json, get_as_string, get_as_bytes; Output(code, message),
add, add_as_json, add_property, set_code, set_message, error; every Output method chains.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from typing import Dict, List, Optional


class Input:
    def __init__(self, properties: Optional[Dict[str, str]] = None, content: bytes = b""):
        self._properties = dict(properties or {})
        self._content = content

    def is_empty(self) -> bool:
        return not self._content

    def get_properties(self) -> Dict[str, str]:
        return dict(self._properties)

    def get_property(self, key: str) -> Optional[str]:
        return self._properties.get(key)

    def get_as_bytes(self) -> bytes:
        return self._content

    def get_as_string(self) -> str:
        return self._content.decode("utf-8")

    def get_as_json(self):
        return json.loads(self._content)


class Output:
    def __init__(self, code: int = 200, message: str = "OK"):
        self.code, self.message = code, message
        self.properties: Dict[str, str] = {}
        self.content: List[bytes] = []

    def set_code(self, code: int) -> "Output":
        self.code = code
        return self

    def set_message(self, message: str) -> "Output":
        self.message = message
        return self

    def add_property(self, key: str, value: str) -> "Output":
        self.properties[key] = value
        return self

    def add(self, value) -> "Output":
        self.content.append(value if isinstance(value, bytes) else str(value).encode("utf-8"))
        return self

    def add_as_json(self, value) -> "Output":
        self.add_property("Content-Type", "application/json")
        return self.add(json.dumps(value))

    def error(self, error: str, code: int = 424, message: str = "prediction failure") -> "Output":
        self.code, self.message = code, message
        return self.add_as_json({"code": code, "error": error})

    def body(self) -> bytes:
        return b"".join(self.content)


def install() -> bool:
    """Register this module as `djl_python` unless the real one is importable. True if it did."""
    if "djl_python" in sys.modules or importlib.util.find_spec("djl_python") is not None:
        return False
    module = types.ModuleType("djl_python", __doc__)
    module.__dict__.update(Input=Input, Output=Output)
    sys.modules["djl_python"] = module
    return True
