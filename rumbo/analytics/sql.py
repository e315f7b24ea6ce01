"""Small helpers for writing the analyses' SQL once: literals and filters that both engines read alike."""

from __future__ import annotations

from collections.abc import Iterable


def literal(value: str | int | float | None) -> str:
    """``value`` as a SQL literal; text is single-quoted with quotes doubled, so it cannot end the string."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        raise TypeError("booleans are not used in analysis filters")
    if isinstance(value, int | float):
        return repr(value)
    return "'" + value.replace("'", "''") + "'"


def conditions(*parts: str | None) -> str:
    """The parts that are not None joined by AND; ``TRUE`` when there are none."""
    kept = [part for part in parts if part]
    return " AND ".join(f"({part})" for part in kept) if kept else "TRUE"


def equals(column: str, value: str | int | None) -> str | None:
    """``column = value``, or None (no condition) when ``value`` is None."""
    return None if value is None else f"{column} = {literal(value)}"


def one_of(column: str, values: Iterable[str]) -> str:
    """``column IN (...)`` over text values."""
    return f"{column} IN ({', '.join(literal(v) for v in values)})"
