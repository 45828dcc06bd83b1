"""checkov (run from its own venv, .venv-checkov, made by `make install`) on the reference stacks
and the every-option stack: zero failed checks; every skip in .checkov.yaml has a reason."""

import json
import subprocess

import pytest

from .conftest import ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CONFIG = ROOT / ".checkov.yaml"


def checkov(directory):
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make install` (make test does)")
    done = subprocess.run(
        [str(CHECKOV), "--config-file", str(CONFIG), "-d", str(directory), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(done.stdout)
    return report if isinstance(report, list) else [report]


def test_every_skipped_check_has_a_reason():
    skips = [
        line.strip() for line in CONFIG.read_text().splitlines() if line.strip().startswith("- CKV")
    ]
    assert skips
    for line in skips:
        check, _, reason = line[2:].partition("#")
        assert check.strip().startswith("CKV_") and len(reason.strip()) > 40, line


def test_no_failed_checks(template_files, production, tmp_path):
    for template in template_files:
        (tmp_path / template.name).write_text(template.read_text())
    (tmp_path / "Production.template.json").write_text(json.dumps(production.template))
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']})"
        for report in checkov(tmp_path)
        for check in report["results"]["failed_checks"]
    ]
    assert failed == []
    passed = sum(report["summary"]["passed"] for report in checkov(tmp_path))
    assert passed > 300  # the checks did run on every template
