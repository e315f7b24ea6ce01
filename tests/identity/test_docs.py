"""docs/identity.md stays true: its example runs and every public name it relies on exists."""

from __future__ import annotations

import re
from pathlib import Path

import rumbo.identity

DOC = Path(__file__).resolve().parents[2] / "docs" / "identity.md"


def test_the_example_in_the_docs_runs() -> None:
    (example,) = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    exec(compile(example, str(DOC), "exec"), {})


def test_every_public_name_is_documented() -> None:
    text = DOC.read_text()
    missing = [name for name in rumbo.identity.__all__ if name not in text]
    assert missing == []
