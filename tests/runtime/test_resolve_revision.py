"""`lmi resolve-revision` against the Hub emulation: the sha to pin with, the token for gated
repositories, HF_ENDPOINT honoured, the Hub's refusals as exit 1 with the reason."""

from __future__ import annotations

import time

from lmi_constructs.cli.main import main

from .conftest import tiny_model_files


def test_prints_the_commit_a_branch_points_at(hub, capsys):
    first = hub.add_repo("org/tiny", tiny_model_files(seed=1))
    second = hub.add_repo("org/tiny", tiny_model_files(seed=2))  # main moved on
    assert main(["resolve-revision", "org/tiny"]) == 0
    assert capsys.readouterr().out == f"{second}\n"
    assert main(["resolve-revision", "org/tiny", first]) == 0  # a sha resolves to itself
    assert capsys.readouterr().out == f"{first}\n"


def test_a_gated_repository_needs_hf_token(hub, capsys, monkeypatch):
    commit = hub.add_repo("org/gated", tiny_model_files(), gated=True)
    assert main(["resolve-revision", "org/gated"]) == 1
    assert "repository org/gated is gated (401)" in capsys.readouterr().err
    monkeypatch.setenv("HF_TOKEN", "hf_valid_token\n")  # pasted with its newline
    assert main(["resolve-revision", "org/gated"]) == 0
    assert capsys.readouterr().out == f"{commit}\n"


def test_unknown_revisions_and_bad_ids_are_named(hub, capsys):
    hub.add_repo("org/tiny", tiny_model_files())
    assert main(["resolve-revision", "org/tiny", "no-such-branch"]) == 1
    assert "revision 'no-such-branch' not found in org/tiny" in capsys.readouterr().err
    assert main(["resolve-revision", "not-a-repo-id"]) == 2
    assert "REPO_ID 'not-a-repo-id' is not <owner>/<name>" in capsys.readouterr().err


def test_a_hub_that_never_answers_is_a_prompt_error(silent_server, capsys, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", silent_server)
    started = time.monotonic()
    assert main(["resolve-revision", "org/tiny", "--timeout", "1"]) == 1
    assert time.monotonic() - started < 30  # two tries of 1 s, not minutes
    err = capsys.readouterr().err
    assert f"{silent_server} unreachable" in err and "HF_ENDPOINT sets the Hub" in err


def test_a_hostile_commit_id_is_refused(hub, capsys, monkeypatch):
    hub.add_repo("org/tiny", tiny_model_files())
    hub.faults.model_info_sha = "*"
    assert main(["resolve-revision", "org/tiny"]) == 1
    assert "not 40 hex characters; nothing was copied" in capsys.readouterr().err
