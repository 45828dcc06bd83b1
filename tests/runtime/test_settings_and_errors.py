"""The functions' settings are parsed at the edge, with the variable named when one is missing or
malformed; the errors carry what they are about, so callers need not parse their text."""

from __future__ import annotations

import pytest

from lmi_constructs.runtime import hub_weights, scaling_guard
from lmi_constructs.runtime.copier.hub import HubFile
from lmi_constructs.runtime.copier.selection import select_files
from lmi_constructs.runtime.errors import (
    InstanceTypeChange,
    NoMatchingFiles,
    SettingsError,
    UnsafePath,
)
from lmi_constructs.runtime.settings import DispatchSettings, HubSettings
from tests.support.cfn_events import cfn_event


def test_what_the_construct_writes_is_what_the_function_reads():
    hub = HubSettings("weights", "https://hub.example", "arn:aws:secretsmanager:::secret:t")
    dispatch = DispatchSettings("worker-fn", 32, 3540.0)
    assert HubSettings.from_environment(hub.environment()) == hub
    assert DispatchSettings.from_environment(dispatch.environment()) == dispatch
    assert HubSettings("weights").environment() == {"BUCKET": "weights"}


@pytest.mark.parametrize(
    "environment, variable, message",
    [
        ({}, "WORKER_FUNCTION", "WORKER_FUNCTION is not set"),
        ({"WORKER_FUNCTION": "w"}, "MAX_PARALLEL_WORKERS", "MAX_PARALLEL_WORKERS is not set"),
        (
            {"WORKER_FUNCTION": "w", "MAX_PARALLEL_WORKERS": "many", "COPY_DEADLINE_S": "60"},
            "MAX_PARALLEL_WORKERS",
            "MAX_PARALLEL_WORKERS='many' is not a number of at least 1",
        ),
        (
            {"WORKER_FUNCTION": "w", "MAX_PARALLEL_WORKERS": "4", "COPY_DEADLINE_S": "nan"},
            "COPY_DEADLINE_S",
            "COPY_DEADLINE_S='nan' is not a number of at least 0",
        ),
    ],
)
def test_a_missing_or_malformed_setting_names_the_variable(environment, variable, message):
    with pytest.raises(SettingsError, match=message) as raised:
        DispatchSettings.from_environment(environment)
    assert raised.value.variable == variable


def test_is_complete_refuses_to_run_without_its_settings(monkeypatch):
    monkeypatch.setenv("BUCKET", "weights")
    for name in ("WORKER_FUNCTION", "MAX_PARALLEL_WORKERS", "COPY_DEADLINE_S"):
        monkeypatch.delenv(name, raising=False)
    event = cfn_event("Create", {"RepoId": "org/tiny"}, "s3://weights/hub/org/tiny/abc/")
    with pytest.raises(SettingsError, match="WORKER_FUNCTION is not set.*HubWeights"):
        hub_weights.is_complete(event, None)


def test_copy_errors_carry_the_repository_and_the_path():
    with pytest.raises(UnsafePath) as unsafe:
        select_files([HubFile("../escape.safetensors", 1, "b")], "org/tiny", "c" * 40)
    assert (unsafe.value.repo_id, unsafe.value.path) == ("org/tiny", "../escape.safetensors")
    with pytest.raises(NoMatchingFiles) as none:
        select_files([HubFile("README.md", 1, "b")], "org/tiny", "c" * 40)
    assert (none.value.repo_id, none.value.revision) == ("org/tiny", "c" * 40)


def test_the_scaling_guard_names_the_endpoint_and_both_types():
    event = {
        "RequestType": "Update",
        "ResourceProperties": {"Endpoint": "bloom", "InstanceType": "ml.p4d.24xlarge"},
        "OldResourceProperties": {"Endpoint": "bloom", "InstanceType": "ml.g5.48xlarge"},
    }
    with pytest.raises(InstanceTypeChange) as raised:
        scaling_guard.on_event(event, None)
    assert (raised.value.endpoint, raised.value.old, raised.value.new) == (
        "bloom",
        "ml.g5.48xlarge",
        "ml.p4d.24xlarge",
    )
