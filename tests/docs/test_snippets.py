"""The code and commands the docs show are run here, so the docs cannot drift from the code.

Markers (an HTML comment on the last non-blank line before a fence, see markdown_blocks.py):
- `<!-- docs-test: synth -->` on a python block: executed and its CDK app synthesized, with no
  error annotation. A block without `App(` is a fragment: it runs after
  `app = App(); stack = Stack(app, "TeamLlm")`, the names the docs say fragments use.
- `<!-- docs-test: exec -->` on a python block without CDK: executed as it is.
- `<!-- docs-test: run -->` on a console block: every `$ lmi ...` line runs offline (no Hub, no
  AWS, in an empty directory) and its output must equal the lines that follow it.
- `<!-- docs-test: cdk-synth -->` on a console block: `$ cdk synth -c KEY=VALUE ...` builds the
  reference app with that context; the output shown must be what app.py prints.
- `<!-- docs-test: synth-plan -->` on a text block: must appear in what `make synth` prints
  (`lmi plan --cdk-out` of the reference app).
- `<!-- docs-test: skip: why -->`: not run (the reason is for the reader of the source).
Every python block in the pages this project writes needs one of them.

When the code changes on purpose, `LMI_DOCS_UPDATE=1 pytest tests/docs/test_snippets.py` writes
what the code prints now into the run, cdk-synth and synth-plan blocks (like a snapshot update):
read the diff before committing it. Independently, every
`lmi` command anywhere in the Markdown, in a block or inline, must name a subcommand and options
that exist; in the pages' shell blocks it must also parse.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
from pathlib import Path

import pytest

from lmi_constructs import SpecError
from lmi_constructs.cli.main import build_parser

from .markdown_blocks import DOCS, MARKDOWN_FILES, ROOT, all_blocks, inline_code, shell_commands

# Pages other people write: their commands are checked for existing options only.
OTHERS_PAGES = {
    DOCS / "model-facts-and-sizing.md",
    DOCS / "copy-benchmark.md",
    DOCS / "gpu-check.md",
}
SHELL_LANGUAGES = {"bash", "sh", "shell", "console", "text", ""}
FRAGMENT_PREAMBLE = 'from aws_cdk import App, Stack\napp = App()\nstack = Stack(app, "TeamLlm")\n'

BLOCKS = all_blocks()
OWN_BLOCKS = [block for block in BLOCKS if block.path not in OTHERS_PAGES]


UPDATE = os.environ.get("LMI_DOCS_UPDATE") == "1"


def rewrite(block, new_text):
    """Replace the block's body in its file (LMI_DOCS_UPDATE=1)."""
    text = block.path.read_text(encoding="utf-8")
    old = f"```{block.language}\n{block.text}```"
    assert text.count(old) == 1, f"{block.where}: cannot find the block to update"
    block.path.write_text(text.replace(old, f"```{block.language}\n{new_text}```"), "utf-8")


def rewrite_transcript(block, outputs):
    """The block with each command's output replaced, the commands kept as written."""
    lines, result, index = block.text.splitlines(), [], 0
    outputs = iter(outputs)
    while index < len(lines):
        result.append(lines[index])
        if lines[index].startswith("$ "):
            while lines[index].endswith("\\"):
                index += 1
                result.append(lines[index])
            output = next(outputs)
            result.extend(output.splitlines())
            index += 1
            while index < len(lines) and not lines[index].startswith("$ "):
                index += 1
            continue
        index += 1
    return "\n".join(result) + "\n"


def marked(kind):
    found = [block for block in BLOCKS if block.marker == kind]
    return pytest.mark.parametrize("block", found, ids=[block.where for block in found])


def test_every_python_block_is_synthesized_or_says_why_not():
    unmarked = [
        block.where
        for block in OWN_BLOCKS
        if block.language == "python" and block.marker not in ("synth", "exec", "skip")
    ]
    assert unmarked == [], "mark each: docs-test synth, exec, or skip: why"


def test_every_marker_is_known_and_skips_say_why():
    kinds = {"synth", "exec", "run", "cdk-synth", "synth-plan", "skip"}
    unknown = {block.where: block.marker for block in BLOCKS if block.marker not in kinds | {None}}
    assert unknown == {}
    silent = [b.where for b in BLOCKS if b.marker == "skip" and not (b.marker_arg or "").strip()]
    assert silent == []


def test_the_markers_are_used():
    """A marker misspelt or placed wrongly would silently test nothing."""
    assert {"synth", "exec", "run", "cdk-synth", "synth-plan"} <= {block.marker for block in BLOCKS}


# --- python: synthesized ---------------------------------------------------------------------


@marked("synth")
def test_python_snippet_synthesizes(block):
    source = block.text if "App(" in block.text else FRAGMENT_PREAMBLE + block.text
    namespace: dict = {"__name__": "docs_snippet"}
    exec(compile(source, block.where, "exec"), namespace)  # noqa: S102 - the docs' own code
    app = namespace["app"]
    assembly = app.synth()
    errors = [
        f"{stack.stack_name}: {message.entry.data}"
        for stack in assembly.stacks
        for message in stack.messages
        if message.level.value == "ERROR"
    ]
    assert errors == []
    assert any(stack.template.get("Resources") for stack in assembly.stacks)


@marked("exec")
def test_python_snippet_runs(block, capsys):
    exec(compile(block.text, block.where, "exec"), {"__name__": "docs_snippet"})  # noqa: S102
    assert capsys.readouterr().out, f"{block.where}: an exec block shows what it prints"


# --- lmi: every command names what exists ------------------------------------------------------


def lmi_commands():
    """(where, words, must_parse) for every `lmi` command in the Markdown."""
    for block in BLOCKS:
        if block.language not in SHELL_LANGUAGES:
            continue
        for words in shell_commands(block.text):
            if words[0] == "lmi":
                yield block.where, words, block.path not in OTHERS_PAGES
    for path in MARKDOWN_FILES:
        for span in inline_code(path):
            if span.startswith("lmi "):
                words = shlex.split(span.replace("[", " ").replace("]", " "), comments=True)
                yield f"{path.relative_to(ROOT)} `{span}`", words, False


def subcommands():
    parser = build_parser()
    action = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return parser, action.choices


def test_every_lmi_command_names_a_subcommand_and_options_that_exist():
    parser, choices = subcommands()
    top_options = set(parser._option_string_actions)
    wrong = []
    for where, words, _ in lmi_commands():
        words = [w.strip("[]") for w in words[1:]]
        if not words or words[0].startswith("-"):
            wrong += [f"{where}: {w}" for w in words if w.startswith("--") and w not in top_options]
            continue
        if words[0] not in choices:
            wrong.append(f"{where}: no subcommand {words[0]!r}")
            continue
        known = set(choices[words[0]]._option_string_actions)
        wrong += [
            f"{where}: lmi {words[0]} has no {word.split('=')[0]}"
            for word in words[1:]
            if word.startswith("--") and word.split("=")[0] not in known
        ]
    assert wrong == []


def test_the_pages_lmi_commands_parse():
    parser = build_parser()
    refused = []
    for where, words, must_parse in lmi_commands():
        if not must_parse:
            continue
        with contextlib.redirect_stderr(io.StringIO()) as stderr:
            try:
                parser.parse_args(words[1:])
            except SystemExit as exit:
                if exit.code:
                    refused.append(f"{where}: {' '.join(words)}: {stderr.getvalue().strip()}")
    assert refused == []


def test_the_command_checks_see_the_commands():
    seen = {words[1] for _, words, _ in lmi_commands() if len(words) > 1}
    assert {"plan", "lookup", "stage-weights", "local", "invoke", "bench"} <= seen


# --- lmi: run offline, output compared ---------------------------------------------------------


def transcript(text):
    """[(command words, expected output)] of a console block."""
    steps = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            index += 1
            continue
        command = line[2:]
        while command.endswith("\\"):
            index += 1
            command = command[:-1] + " " + lines[index].strip()
        index += 1
        output = []
        while index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index].rstrip())
            index += 1
        steps.append((shlex.split(command, comments=True), "\n".join(output).strip("\n")))
    return steps


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No Hub, no AWS, no cdk.context.json of this checkout."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COLUMNS", "80")  # argparse wraps --help to the terminal
    return tmp_path


@marked("run")
def test_lmi_transcript_is_what_lmi_prints(block, offline):
    from lmi_constructs.cli.main import main

    steps = transcript(block.text)
    assert steps, f"{block.where}: a run block needs `$ lmi ...` lines"
    outputs = []
    for words, _ in steps:
        assert words[0] == "lmi", f"{block.where}: only lmi runs here"
        output = io.StringIO()
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            try:
                main(words[1:])
            except SystemExit:
                pass
        outputs.append(
            "\n".join(line.rstrip() for line in output.getvalue().splitlines()).strip("\n")
        )
    if UPDATE:
        rewrite(block, rewrite_transcript(block, outputs))
        return
    for (words, expected), actual in zip(steps, outputs):
        assert actual == expected, f"{block.where}: `{' '.join(words)}` now prints:\n{actual}"


# --- cdk synth with context: the errors app.py prints --------------------------------------------


@marked("cdk-synth")
def test_cdk_synth_transcript_is_what_the_app_prints(block, tmp_path):
    from app import build_app

    steps = transcript(block.text)
    outputs = []
    for words, _ in steps:
        assert words[:2] == ["cdk", "synth"], f"{block.where}: only cdk synth runs here"
        context = json.loads((ROOT / "cdk.json").read_text())["context"]
        for flag, value in zip(words, words[1:]):
            if flag in ("-c", "--context"):
                key, _, setting = value.partition("=")
                context[key] = setting
        try:
            build_app(outdir=str(tmp_path / "cdk.out"), context=context)
            actual = ""
        except SpecError as error:
            actual = f"error: {error}"
        outputs.append(actual)
    if UPDATE:
        rewrite(block, rewrite_transcript(block, outputs))
        return
    for (words, expected), actual in zip(steps, outputs):
        assert actual == expected, f"{block.where}: `{' '.join(words)}` now prints:\n{actual}"


# --- the plans make synth prints ------------------------------------------------------------------


@pytest.fixture(scope="module")
def make_synth_plans(tmp_path_factory):
    """What `make synth` prints after `cdk synth`: the plans of the reference app."""
    from app import build_app
    from lmi_constructs.cli.main import main

    outdir = tmp_path_factory.mktemp("cdk.out")
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    build_app(outdir=str(outdir), context=context).synth()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert main(["plan", "--cdk-out", str(outdir)]) == 0
    return output.getvalue()


@marked("synth-plan")
def test_plan_shown_is_what_make_synth_prints(block, make_synth_plans):
    if UPDATE:
        title = block.text.splitlines()[0]
        plans = {plan.splitlines()[0]: plan for plan in make_synth_plans.split("\n\n") if plan}
        rewrite(block, plans[title].strip("\n") + "\n")
        return
    assert block.text.strip("\n") in make_synth_plans, (
        f"{block.where}: make synth now prints:\n{make_synth_plans}"
    )


# --- make targets, stacks and context keys named in the docs --------------------------------------


def own_text():
    paths = [path for path in MARKDOWN_FILES if path not in OTHERS_PAGES]
    return {path: path.read_text(encoding="utf-8") for path in paths}


def test_make_targets_named_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.MULTILINE))
    named = {
        (path.relative_to(ROOT), target)
        for path, text in own_text().items()
        for target in re.findall(r"\bmake ([a-z][\w-]*)", text)
    }
    assert {(path, target) for path, target in named if target not in targets} == set()


def test_cdk_commands_name_stacks_the_apps_have():
    from stacks.context import _KEYS

    stacks = {"LmiWeights", "BloomStack", "OptStack", "QwenStack", "TeamLlm"}
    wrong = []
    for path, text in own_text().items():
        for stack in re.findall(r"\bcdk (?:synth|deploy|destroy|diff) ([A-Z]\w*)", text):
            if stack not in stacks:
                wrong.append(f"{path.relative_to(ROOT)}: no stack {stack}")
        for stack, key in re.findall(r"-c (\w+):(\w+)=", text):
            if stack not in {"BloomStack", "OptStack"} or key not in _KEYS:
                wrong.append(f"{path.relative_to(ROOT)}: no override {stack}:{key}")
    assert wrong == []


def test_context_keys_listed_are_the_apps():
    """The overrides page lists every key the reference stacks read, and no other."""
    from stacks.context import _KEYS

    page = (DOCS / "reference-stacks.md").read_text(encoding="utf-8")
    listed = re.search(r"<!-- context-keys -->(.*?)<!-- /context-keys -->", page, flags=re.S)
    assert listed, "docs/reference-stacks.md: the key table is marked with <!-- context-keys -->"
    assert set(re.findall(r"^\| `(\w+)`", listed.group(1), flags=re.MULTILINE)) == set(_KEYS)


def test_a_shell_line_is_split_into_commands():
    text = "$ cdk deploy X -c X:revision=$(lmi resolve-revision org/m) \\\n  --force  # why\n"
    assert list(shell_commands(text)) == [
        ["lmi", "resolve-revision", "org/m"],
        ["cdk", "deploy", "X", "-c", "X:revision=SUBSTITUTED", "--force"],
    ]


def test_a_transcript_pairs_commands_with_output():
    text = "$ lmi plan \\\n  --offline\nline 1\n\n$ lmi --help\nusage\n"
    assert transcript(text) == [
        (["lmi", "plan", "--offline"], "line 1"),
        (["lmi", "--help"], "usage"),
    ]


def test_markdown_files_are_found():
    assert ROOT / "README.md" in MARKDOWN_FILES and Path(DOCS / "index.md") in MARKDOWN_FILES
