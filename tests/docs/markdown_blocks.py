"""The fenced blocks of the project's Markdown, with the test marker that precedes each.

A block is marked by an HTML comment on the last non-blank line before its fence, invisible on
GitHub and in the site: `<!-- docs-test: KIND -->` or `<!-- docs-test: skip: why -->`. The kinds
are read by tests/docs/test_snippets.py, which says what each one checks.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Pages written by others are read the same way: their `lmi` commands are checked too.
MARKDOWN_FILES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *DOCS.rglob("*.md")],
    key=lambda path: str(path),
)

_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*(?P<kind>[\w-]+)(?::\s*(?P<arg>.*?))?\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    text: str
    marker: Optional[str]  # the KIND of <!-- docs-test: KIND -->, or None
    marker_arg: Optional[str]

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, indent = opening.group("fence"), len(opening.group("indent"))
        body: List[str] = []
        end = index + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            body.append(lines[end][indent:] if lines[end][:indent].isspace() else lines[end])
            end += 1
        marker = _marker_before(lines, index)
        yield Block(
            path=path,
            line=index + 1,
            language=opening.group("info").strip().split(" ")[0],
            text="\n".join(body) + "\n",
            marker=marker.group("kind") if marker else None,
            marker_arg=marker.group("arg") if marker else None,
        )
        index = end + 1


def _marker_before(lines: List[str], fence_index: int):
    previous = fence_index - 1
    while previous >= 0 and not lines[previous].strip():
        previous -= 1
    return _MARKER.match(lines[previous]) if previous >= 0 else None


def all_blocks() -> List[Block]:
    return [block for path in MARKDOWN_FILES for block in blocks(path)]


def shell_commands(text: str) -> Iterator[List[str]]:
    """Each command line of a shell block, continuation lines joined, as shell words with the
    prompt (`$ `), comments and leading VAR=value assignments removed; commands inside `$(...)`
    come out on their own as well."""
    logical = ""
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        yield from _commands_of(logical)
        logical = ""
    if logical:
        yield from _commands_of(logical)


def _commands_of(line: str) -> Iterator[List[str]]:
    stripped = line.strip()
    if stripped.startswith("$ "):
        stripped = stripped[2:]
    for inner in re.findall(r"\$\(([^()]*)\)", stripped):
        yield from _commands_of(inner)
    stripped = re.sub(r"\$\(([^()]*)\)", "SUBSTITUTED", stripped)
    try:
        words = shlex.split(stripped, comments=True)
    except ValueError:
        return
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        words = words[1:]
    if words:
        yield words


def inline_code(path: Path) -> Iterator[str]:
    """Inline code spans outside fenced blocks."""
    in_fence = None
    for line in path.read_text(encoding="utf-8").splitlines():
        opening = _FENCE.match(line)
        if opening and in_fence is None:
            in_fence = opening.group("fence")
            continue
        if in_fence is not None:
            if line.strip().startswith(in_fence):
                in_fence = None
            continue
        yield from re.findall(r"(?<!`)`([^`\n]+)`(?!`)", line)
