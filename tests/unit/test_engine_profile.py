"""Engine is one EngineProfile per engine, and every check reads the profile.

Each row is complete and consistent with the catalogs it names (dtypes, the handler's backends,
its default image), builds a spec and renders its configuration; and no module outside
spec/engines.py asks which engine it has (`engine is Engine.VLLM`, `Engine.X:` keys, a
comparison with an engine's name): adding an engine is adding a row, plus its backend in the
handler when it runs our model.py.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List

import pytest

from lmi_constructs.handler.lmi_handler.config import BACKENDS
from lmi_constructs.spec import images, serving
from lmi_constructs.spec.endpoint_spec import EndpointSpec
from lmi_constructs.spec.engines import BYTES_PER_DTYPE, Engine, EngineProfile, engine_from
from lmi_constructs.spec.errors import SpecError
from lmi_constructs.spec.sizing import EngineMemory

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "constructs" / "lmi_constructs"
SCANNED = (PACKAGE, REPO / "stacks")
ROWS = PACKAGE / "spec" / "engines.py"
# Modules outside this change's reach that still decide by an engine's name, and why; each must
# still need its entry (the test fails when one is fixed, so the entry goes too).
KNOWN_NAME_TESTS: Dict[str, str] = {}
CATALOGUED_TAGS = images.DEEPSPEED_TAGS + images.LMI_TAGS + images.TENSORRTLLM_TAGS
SMALL_MODEL = "meta-llama/Llama-3.2-3B-Instruct"

ENGINES = list(Engine)


def test_every_row_is_its_own_engine():
    # Enum makes a row equal to an earlier one an alias of it: two names, one engine.
    assert len(Engine.__members__) == len(ENGINES), "two Engine rows have the same profile"
    assert all(isinstance(engine.value, EngineProfile) for engine in ENGINES)


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_the_profile_is_complete_and_consistent(engine: Engine):
    profile = engine.profile
    name = engine.name
    assert profile.serving_engine, f"{name}: serving_engine (DJL's engine=) is empty"
    assert profile.dtypes and set(profile.dtypes) <= set(BYTES_PER_DTYPE), (
        f"{name}: dtypes {profile.dtypes} must be some of {tuple(BYTES_PER_DTYPE)}"
    )
    assert len(set(profile.dtypes)) == len(profile.dtypes)
    if profile.handler_backend is not None:
        assert profile.handler_backend in BACKENDS, (
            f"{name}: handler_backend {profile.handler_backend!r} is not one of the handler's "
            f"BACKENDS {BACKENDS}: add it to lmi_handler/config.py with its loading code"
        )
        assert profile.rolling_batch is None, f"{name}: our model.py has no rolling batch"
        assert profile.limits_enforced_by == "handler", f"{name}: our model.py enforces them"
    else:
        assert profile.rolling_batch, f"{name}: LMI serves it, so it names option.rolling_batch"
    assert engine.needs_model_code is (profile.handler_backend is not None)
    assert profile.limits_enforced_by, f"{name}: limits_enforced_by is empty"
    assert all(m and m == m.lower() for m in profile.quantization), profile.quantization
    assert len(set(profile.quantization)) == len(profile.quantization)
    assert isinstance(profile.memory, EngineMemory) and 0 < profile.memory.memory_fraction <= 1
    assert profile.default_max_batch_size >= 1
    assert profile.length_without_positions is None or profile.length_without_positions > 1
    if profile.runs_on:
        assert profile.image_problem and profile.image_fix, f"{name}: runs_on needs a message"
        profile.image_problem.format(image="an image")  # "{image}" is its only placeholder
    else:
        assert not profile.image_problem and not profile.image_fix, (
            f"{name}: image_problem/image_fix say nothing without runs_on"
        )


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_the_default_image_runs_the_engine(engine: Engine):
    profile = engine.profile
    tag = images.parse_tag(profile.default_image_tag)
    assert tag is not None, f"{engine.name}: default tag {profile.default_image_tag} does not parse"
    assert profile.default_image_tag in CATALOGUED_TAGS, (
        f"{engine.name}: default tag {profile.default_image_tag} is in no image catalog "
        "(images.py DEEPSPEED_TAGS, LMI_TAGS, TENSORRTLLM_TAGS)"
    )
    assert images.engine_flavour_violation(engine, tag) is None, (
        f"{engine.name}: its default tag is outside its own runs_on"
    )
    if profile.runs_on:
        assert any(known.admits(tag) for known in profile.runs_on)
    if profile.rolling_batch:
        assert tag.djl_version >= images.FIRST_ROLLING_BATCH_VERSION
    if profile.handler_backend is None:
        assert tag.djl_version >= images.FIRST_OPTION_ENVIRONMENT_VERSION


@pytest.mark.parametrize("engine", ENGINES, ids=lambda e: e.name)
def test_every_engine_builds_a_spec_and_renders_from_its_profile(engine: Engine):
    profile = engine.profile
    spec = EndpointSpec(
        instance_type="ml.g5.12xlarge",
        engine=engine.name.lower(),
        model_id=SMALL_MODEL,
        has_model_code=engine.needs_model_code,
    )
    plan = spec.plan()
    assert plan["engine"] == engine.name
    assert plan["image_tag"] == profile.default_image_tag
    assert plan["limits"]["enforced_by"] == profile.limits_enforced_by
    assert plan["memory"]["engine"] == profile.memory.name
    assert spec.dtype in profile.dtypes
    if engine.needs_model_code:
        rendered = serving.model_code_properties(spec)
        assert rendered["engine"] == profile.serving_engine
        assert rendered["option.backend"] == profile.handler_backend
    else:
        rendered = serving.environment_options(spec)
        assert rendered["OPTION_ENGINE"] == profile.serving_engine
        assert rendered.get("OPTION_ROLLING_BATCH") in (profile.rolling_batch, "disable")


def test_a_bad_engine_name_lists_every_row():
    with pytest.raises(SpecError) as caught:
        engine_from("nope")
    for engine in ENGINES:
        assert engine.name in str(caught.value)
    assert Engine.find("nope") is None and Engine.find(" vllm ") is Engine.VLLM


# --- no identity tests outside the rows ------------------------------------------------------


def _is_member(node: ast.AST) -> bool:
    """`Engine.VLLM` (any row's name)."""
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Engine"
        and node.attr in Engine.__members__
    )


def _is_member_name(node: ast.AST) -> bool:
    """'VLLM' (a row's name as a string)."""
    return isinstance(node, ast.Constant) and node.value in Engine.__members__


def _names_engine(node: ast.AST) -> bool:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_engine(element) for element in node.elts)
    return _is_member(node) or _is_member_name(node)


def _identity_tests(source: str, name: str = "<module>") -> List[str]:
    """Where a module decides by which engine it has, in line order. Strings (docstrings, help
    text) that merely mention an engine are not code and are not read."""
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Compare):
            if any(_names_engine(side) for side in [node.left, *node.comparators]):
                found.append((node.lineno, f"compares with an engine ({ast.unparse(node)})"))
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None and _names_engine(key):
                    found.append((key.lineno, f"keyed by an engine ({ast.unparse(key)})"))
        elif isinstance(node, ast.Assign) and isinstance(
            node.value, (ast.Tuple, ast.List, ast.Set)
        ):
            if _names_engine(node.value):
                found.append((node.lineno, f"a list of engines ({ast.unparse(node)})"))
    return [f"line {line}: {text}" for line, text in sorted(found)]


def _identity_tests_of(path: Path) -> List[str]:
    return _identity_tests(path.read_text(), str(path))


def _modules() -> List[Path]:
    return sorted(p for root in SCANNED for p in root.rglob("*.py") if p != ROWS)


def test_no_module_tests_which_engine_it_has():
    offenders = {}
    for path in _modules():
        found = _identity_tests_of(path)
        relative = str(path.relative_to(REPO))
        if found and relative not in KNOWN_NAME_TESTS:
            offenders[relative] = found
    assert not offenders, (
        "these modules decide by which engine they have; read a field of engine.profile "
        "instead (add the field to EngineProfile in spec/engines.py, with a value in every "
        "row), so that a new engine is a new row:\n"
        + "\n".join(f"  {path}: {line}" for path, lines in offenders.items() for line in lines)
    )


def test_the_known_name_tests_are_still_there():
    for relative, why in KNOWN_NAME_TESTS.items():
        assert _identity_tests_of(REPO / relative), (
            f"{relative} no longer decides by an engine's name: drop it from KNOWN_NAME_TESTS "
            f"({why})"
        )


def test_the_scan_sees_identity_tests():
    code = (
        "x = engine is Engine.VLLM\n"
        "y = {Engine.DEEPSPEED: 1}\n"
        "z = name != 'VLLM'\n"
        "w = engine in (Engine.ACCELERATE, Engine.DEEPSPEED)\n"
        "NAMES = ('DEEPSPEED', 'other')\n"
        '"""Engine.VLLM in a docstring is not code; engine is Engine.VLLM neither."""\n'
        "default = Engine.VLLM.default_image_tag\n"
    )
    found = [line.split(":")[0] for line in _identity_tests(code)]
    assert found == ["line 1", "line 2", "line 3", "line 4", "line 5"]
