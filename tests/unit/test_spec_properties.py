"""Properties of EndpointSpec over generated props (Hypothesis): a default is never refused,
more GPU memory never turns a valid plan invalid, every violation names field, value and fix."""

import os
from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lmi_constructs import EndpointSpec, Engine, RequestLimits, SpecError
from lmi_constructs.spec.instances import INSTANCES
from lmi_constructs.spec.models import catalog_model_ids, lookup_model

SIZED_MODELS = sorted(
    model_id
    for model_id in catalog_model_ids()
    if lookup_model(model_id).kv_known
    and (lookup_model(model_id).weight_bytes or lookup_model(model_id).parameters)
)
# props that have a default: dropping any of them from a valid spec must keep it valid
DROPPABLE = (
    "tensor_parallel_degree",
    "dtype",
    "max_input_tokens",
    "max_new_tokens",
    "max_total_tokens",
    "max_batch_size",
    "volume_size_gb",
    "instance_count",
)
LIMITS = ("max_input_tokens", "max_new_tokens", "max_total_tokens", "max_batch_size")
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("LMI_PROPERTY_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


@st.composite
def explicit_props(draw):
    """Every prop set explicitly (limits may leave max_total_tokens out)."""
    engine = draw(st.sampled_from(list(Engine)))
    instance = draw(st.sampled_from(sorted(INSTANCES)))
    gpus = INSTANCES[instance].gpu_count
    props = dict(
        model_id=draw(st.sampled_from(SIZED_MODELS)),
        instance_type=instance,
        engine=engine,
        has_model_code=engine.needs_model_code,
        tensor_parallel_degree=draw(st.sampled_from([d for d in (1, 2, 4, 8) if d <= gpus])),
        dtype=draw(st.sampled_from(engine.dtypes)),
        max_input_tokens=draw(st.integers(1, 40000)),
        max_new_tokens=draw(st.integers(1, 8000)),
        max_total_tokens=draw(st.one_of(st.none(), st.integers(2, 48000))),
        max_batch_size=draw(st.integers(1, 64)),
        volume_size_gb=draw(st.one_of(st.none(), st.integers(1, 512))),
        instance_count=draw(st.integers(1, 4)),
    )
    return props


def build(props):
    kwargs = {k: v for k, v in props.items() if k not in LIMITS}
    kwargs["request_limits"] = RequestLimits(**{k: props.get(k) for k in LIMITS})
    if kwargs.get("volume_size_gb") is None:
        kwargs.pop("volume_size_gb", None)
    return EndpointSpec(**kwargs)


def valid(props):
    try:
        return build(props)
    except SpecError:
        return None


@PROPERTY_SETTINGS
@given(explicit_props(), st.sets(st.sampled_from(DROPPABLE), min_size=1))
def test_leaving_a_prop_at_its_default_never_produces_a_violation(props, dropped):
    assume(valid(props) is not None)
    reduced = {k: (None if k in dropped else v) for k, v in props.items()}
    if "instance_count" in dropped:
        reduced["instance_count"] = 1
    try:
        build(reduced)
    except SpecError as error:  # pragma: no cover - the failure message is the point
        raise AssertionError(f"dropping {sorted(dropped)} from a valid spec: {error}") from None


@PROPERTY_SETTINGS
@given(
    explicit_props(),
    st.sets(st.sampled_from(DROPPABLE)),
    st.floats(1.0, 4.0),
)
def test_more_memory_never_turns_a_valid_plan_invalid(props, dropped, factor):
    props = {k: (None if k in dropped else v) for k, v in props.items()}
    props["instance_count"] = props["instance_count"] or 1
    spec = valid(props)
    assume(spec is not None)
    instance = INSTANCES[props["instance_type"]]
    bigger = {**props, "gpu_memory_gib": instance.gpu_memory_gib * factor}
    try:
        build(bigger)
    except SpecError as error:  # pragma: no cover
        raise AssertionError(f"x{factor:.2f} GPU memory refused a valid plan: {error}") from None


@PROPERTY_SETTINGS
@given(explicit_props(), st.sets(st.sampled_from(DROPPABLE)))
def test_every_violation_names_field_value_and_fix(props, dropped):
    props = {k: (None if k in dropped else v) for k, v in props.items()}
    props["instance_count"] = props["instance_count"] or 1
    try:
        build(props)
    except SpecError as error:
        for violation in error.violations:
            assert violation.field and violation.problem and violation.fix, violation
            assert str(violation).startswith(f"{violation.field}={violation.value}: ")
            assert "fix: " in str(violation)


def test_the_generator_reaches_valid_and_invalid_specs():
    # the properties above are empty if no generated spec is valid: a fixed witness of each
    witness = dict(
        model_id="facebook/opt-30b",
        instance_type="ml.g5.24xlarge",
        engine=Engine.DEEPSPEED,
        has_model_code=True,
        tensor_parallel_degree=4,
        dtype="fp16",
        max_input_tokens=1024,
        max_new_tokens=512,
        max_total_tokens=None,
        max_batch_size=4,
        volume_size_gb=None,
        instance_count=1,
    )
    assert valid(witness) is not None
    assert valid({**witness, "tensor_parallel_degree": 1}) is None
    assert build(
        {**witness, "max_total_tokens": None, "max_input_tokens": None}
    ).request_limits == (
        replace(
            RequestLimits(),
            max_input_tokens=1536,
            max_new_tokens=512,
            max_total_tokens=2048,
            max_batch_size=4,
        )
    )
