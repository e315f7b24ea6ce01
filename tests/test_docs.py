"""The docs keep up with the code: every command is documented, every example in docs is valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click

from rumbo.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def subcommand(group: click.Group, name: str) -> click.Command:
    command = group.get_command(click.Context(group), name)  # subcommands are imported when asked for
    assert command is not None, f"{name} is listed but cannot be loaded"
    return command


def commands(group: click.Group, prefix: str = "rumbo") -> list[str]:
    found = []
    for name in group.list_commands(click.Context(group)):
        command = subcommand(group, name)
        found.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            found.extend(commands(command, f"{prefix} {name}"))
    return found


def test_every_command_appears_in_the_readme_or_the_docs() -> None:
    text = (ROOT / "README.md").read_text() + "".join(p.read_text() for p in (ROOT / "docs").rglob("*.md"))
    missing = [c for c in commands(main) if c not in text]
    assert missing == [], f"document these commands: {missing}"


def test_every_command_has_help() -> None:
    for name in commands(main):
        parts = name.split()[1:]
        group: click.Command = main
        for part in parts:
            assert isinstance(group, click.Group)
            group = subcommand(group, part)
        assert group.help, f"{name} has no help text"


def test_starting_a_command_does_not_import_the_analyses() -> None:
    """`rumbo serve` and the rest start without pandas, DuckDB or matplotlib, which only the analyses use."""
    heavy = "('pandas', 'duckdb', 'matplotlib')"
    code = f"import sys, rumbo.cli.main; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
