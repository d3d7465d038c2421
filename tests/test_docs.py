"""The README and docs/ stay true to the code: their Python compiles and names what
exists, their `transformer-keras` lines parse, and their links lead somewhere.

The commands and recipes themselves run in `tests/commands` and `tests/recipes`,
the REST requests of docs/serving.md in `tests/export/test_client.py`.
"""

import ast
import importlib
import re
import shlex
from pathlib import Path

import pytest

from transformer_keras.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(page, languages):
    """The fenced blocks of `page` whose language is one of `languages`."""
    blocks, language, lines = [], None, []
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```") and language is None:
            language, lines = line[3:].strip(), []
        elif line.startswith("```"):
            if language in languages:
                blocks.append("\n".join(lines) + "\n")
            language = None
        else:
            lines.append(line)
    return blocks


def _python_blocks():
    return [(page, block) for page in PAGES for block in _blocks(page, ("python",))]


def _command_lines():
    """Each `transformer-keras ...` command of the shell blocks, continuation lines
    joined, comments and pipes before it dropped."""
    commands = []
    for page in PAGES:
        for block in _blocks(page, ("sh", "bash", "")):
            text = re.sub(r"\\\n\s*", " ", block)
            for line in text.splitlines():
                line = line.split("#")[0]
                if "transformer-keras " in line and not line.strip().startswith("pip"):
                    command = line[line.index("transformer-keras ") :]
                    commands.append((page, command))
    return commands


def test_the_pages_exist_and_the_readme_is_short():
    assert len(PAGES) >= 8
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


@pytest.mark.parametrize(
    "page, block", _python_blocks(), ids=lambda value: getattr(value, "name", "")
)
def test_python_blocks_compile_and_import_what_exists(page, block):
    tree = ast.parse(block, filename=str(page))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module.startswith("transformer_keras"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{page.name}: {node.module}.{alias.name}"


def test_every_documented_command_parses():
    parser = build_parser()
    commands = _command_lines()
    assert len(commands) >= 15
    for page, command in commands:
        words = shlex.split(command)[1:]
        words = [word for word in words if word not in ("|", "&&")]
        try:
            parser.parse_args(words)
        except SystemExit as error:
            raise AssertionError(f"{page.name}: {command!r} does not parse") from error


def test_relative_links_lead_to_files():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name}: {target}"
