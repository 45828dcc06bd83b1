"""The version, the changelog and the PyPI page move together: a bump of
lmi_constructs/version.py without its CHANGELOG.md heading, or a README that pins another
version, fails here."""

from __future__ import annotations

import re

from lmi_constructs.version import __version__

from .fresh_install import PROJECT, ROOT

CHANGELOG = (ROOT / "CHANGELOG.md").read_text()
# Keep a Changelog 1.1.0: "## [Unreleased]", then "## [X.Y.Z] - YYYY-MM-DD", newest first
RELEASE_HEADING = re.compile(r"^## \[(\d+\.\d+\.\d+)\] - (\d{4}-\d{2}-\d{2})$", re.MULTILINE)


def released_versions() -> list:
    return [version for version, _ in RELEASE_HEADING.findall(CHANGELOG)]


def test_the_changelog_opens_with_unreleased_then_the_current_version():
    headings = re.findall(r"^## .*$", CHANGELOG, flags=re.MULTILINE)
    assert headings[0] == "## [Unreleased]"
    assert released_versions()[0] == __version__


def test_released_versions_are_newest_first():
    versions = [tuple(int(part) for part in v.split(".")) for v in released_versions()]
    assert versions == sorted(versions, reverse=True)
    dates = [date for _, date in RELEASE_HEADING.findall(CHANGELOG)]
    assert dates == sorted(dates, reverse=True)


def test_the_readme_pins_the_current_version():
    readme = (PROJECT / "README.md").read_text()
    pinned = set(re.findall(r"lmi-constructs(?:\[\w+\])?(?:==|~=)(\d+\.\d+\.\d+)", readme))
    assert pinned == {__version__}
