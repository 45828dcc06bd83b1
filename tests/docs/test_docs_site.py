"""The docs site builds with `mkdocs build --strict`: a broken link, a missing anchor, a page left
out of the nav or an API reference (`::: name`) that does not resolve fails it; the README is the
short front door and every page it links exists."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import lmi_constructs

from .markdown_blocks import DOCS, ROOT

README_MAX_LINES = 160


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=300,
        # Material's notice about MkDocs 2.0 is not a finding of ours.
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


def test_the_site_builds_strictly(tmp_path):
    built = mkdocs_build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "constructs" / "lmi-endpoint" / "index.html").is_file()
    html = (tmp_path / "site" / "constructs" / "lmi-endpoint" / "index.html").read_text()
    page = re.sub(r"<[^>]+>", "", html)
    # the props table comes from the docstring, the defaults from the signature
    assert "GPUs the model is split across" in page and "Duration.minutes(" in page


def config_like_the_sites(tmp_path: Path, page: str) -> Path:
    """A one-page site with the real mkdocs.yml's plugins, paths and validation settings."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.Loader)
    paths = config["plugins"][1]["mkdocstrings"]["handlers"]["python"]["paths"]
    config["plugins"][1]["mkdocstrings"]["handlers"]["python"]["paths"] = [
        str((ROOT / path).resolve()) for path in paths
    ]
    config.update(docs_dir="docs", nav=[{"Home": "index.md"}])
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text(page)
    (tmp_path / "mkdocs.yml").write_text(yaml.dump(config))
    return tmp_path / "mkdocs.yml"


def test_the_strict_build_fails_on_a_broken_link_anchor_or_reference(tmp_path):
    page = (
        "# Home\n\nSee [the stacks](reference-stacks.md), [a section](#no-such-section) and\n"
        "[LmiEndpoint][lmi_constructs.endpoints.endpoint.Nope].\n"
    )
    built = mkdocs_build(config_like_the_sites(tmp_path, page), tmp_path / "site")
    assert built.returncode != 0
    for finding in (
        "reference-stacks.md",
        "no-such-section",
        "lmi_constructs.endpoints.endpoint.Nope",
    ):
        assert finding in built.stderr, built.stderr


def test_the_strict_build_fails_on_a_missing_api_object(tmp_path):
    page = "# Home\n\n::: lmi_constructs.endpoints.endpoint.NoSuchConstruct\n"
    built = mkdocs_build(config_like_the_sites(tmp_path, page), tmp_path / "site")
    assert built.returncode != 0 and "NoSuchConstruct" in built.stderr, built.stderr


def api_references():
    return {
        match
        for page in DOCS.rglob("*.md")
        for match in re.findall(r"^::: ([\w.]+)", page.read_text(), flags=re.MULTILINE)
    }


def test_every_public_name_has_its_reference_page():
    documented = {reference.rsplit(".", 1)[1] for reference in api_references()}
    assert set(lmi_constructs.__all__) - documented == set()


def test_each_construct_has_a_page_of_its_own():
    constructs = {"LmiEndpoint", "LmiInferenceEndpoint", "HubWeights", "WeightsBucket"}
    for name in constructs:
        pages = [
            page
            for page in DOCS.rglob("*.md")
            if re.search(rf"^::: [\w.]+\.{name}$", page.read_text(), flags=re.MULTILINE)
        ]
        assert len(pages) == 1 and pages[0].parent.name == "constructs", name


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES


def relative_links(path: Path):
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if not re.match(r"^[a-z]+:", target) and not target.startswith("#"):
            yield target.split("#")[0]


@pytest.mark.parametrize("name", ["README.md", "CONTRIBUTING.md"])
def test_every_page_linked_from_the_root_exists(name):
    links = list(relative_links(ROOT / name))
    assert links, f"{name} links into the docs"
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_the_readme_keeps_no_maintainer_notes():
    text = (ROOT / "README.md").read_text().lower()
    for phrase in ("offline workspace", "the project's facts", "stored documentation"):
        assert phrase not in text


def test_every_page_is_in_the_nav():
    """mkdocs' own omitted_files check is an info by default; the config raises it to a
    warning (strict fails on it). Checked here as well, with the page named."""
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.Loader)
    assert config["validation"]["omitted_files"] == "warn"

    def pages(nav):
        for entry in nav:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            if isinstance(value, list):
                yield from pages(value)
            else:
                yield value

    listed = set(pages(config["nav"]))
    on_disk = {str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md")}
    assert on_disk - listed == set()
