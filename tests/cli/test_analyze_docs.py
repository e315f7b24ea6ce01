"""Every option of the nodes, funnel, paths, lifecycle and import commands is documented on its page."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from rumbo.cli.analyze import analyze

DOCS = Path(__file__).resolve().parents[2] / "docs" / "analytics"
PAGES = {
    "nodes": "nodes.md",
    "funnel": "funnels.md",
    "paths": "paths.md",
    "lifecycle": "lifecycle.md",
    "import": "README.md",
}


@pytest.mark.parametrize(("command", "page"), sorted(PAGES.items()))
def test_every_option_is_on_the_page(command: str, page: str) -> None:
    text = (DOCS / page).read_text()
    assert f"rumbo analyze {command}" in text
    found = analyze.commands[command]
    options = [
        name
        for param in found.params
        if isinstance(param, click.Option)
        for name in param.opts
        if name.startswith("--")
    ]
    missing = [name for name in options if name not in text]
    assert missing == [], f"{page} does not mention {missing}"
