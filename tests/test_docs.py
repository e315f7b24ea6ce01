"""The docs keep up with the code: every command is documented, every example in docs is valid."""

from __future__ import annotations

from pathlib import Path

import click

from rumbo.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def commands(group: click.Group, prefix: str = "rumbo") -> list[str]:
    found = []
    for name, command in group.commands.items():
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
            group = group.commands[part]
        assert group.help, f"{name} has no help text"
