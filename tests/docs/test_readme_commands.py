"""README.md's "Commands" table names every ``hailong`` sub-command (as sqlite-utils' docs test does).

The command tree is walked through click itself, the way ``hailong --help``
finds it: hailong/cli.py loads each top-level command lazily (COMMANDS), and
groups (``hailong admin …``, ``hailong kiosk init|verify``, ``hailong receipt
…``) are walked to the leaves. A row documents a command when its first
cell starts with ``hailong <top>`` and names each deeper part, alone or as
one of ``a|b|c`` or ``a / b``.
"""
from __future__ import annotations

import re

import click
import pytest
from helpers import ROOT

from hailong.cli import main


def command_paths(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        yield path + (name,)
        if isinstance(cmd, click.Group):
            yield from command_paths(cmd, click.Context(cmd, parent=ctx, info_name=name), path + (name,))


def readme_rows() -> list[list[str]]:
    """The first cell of each row of the Commands table, as words (``a\\|b`` and ``a` / `b`` split)."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = re.search(r"^## Commands\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, 'README.md has no "## Commands" section'
    rows = []
    for line in section[1].splitlines():
        if not line.startswith("|") or re.match(r"\|\s*-", line):
            continue
        first = re.split(r"(?<!\\)\|", line)[1]
        words = first.replace("\\|", " ").replace("`", " ").replace("/", " ").split()
        if words[:1] == ["hailong"]:
            rows.append(words)
    assert rows, "the Commands table has no `hailong …` rows"
    return rows


PATHS = sorted(command_paths(main, click.Context(main, info_name="hailong")))


def test_the_tree_is_walked():
    assert ("admin", "enrol-kiosk") in PATHS and ("kiosk", "init") in PATHS and ("receipt", "print") in PATHS


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_readme_lists_the_command(path):
    top, *rest = path
    rows = [w for w in readme_rows() if w[1:2] == [top]]
    assert any(all(part in words for part in rest) for words in rows), \
        f"README.md's Commands table does not list `hailong {' '.join(path)}`"


def test_readme_lists_no_command_that_does_not_exist():
    tops = {p[0] for p in PATHS}
    for words in readme_rows():
        assert words[1] in tops, f"README.md's Commands table lists `hailong {words[1]}`, which does not exist"
