"""rumbo's errors: one root, each error printing the fields a reader needs to act.

RumboError
├── JourneyInvalid          a journey document has problems (carries every Problem found)
├── ExpressionError         a predicate does not parse or type-check
├── DurationInvalid         a duration such as "3d" or "90m" does not parse
├── EngineError             the engine refused an input
│   ├── IllegalInput        the input does not apply to this state (state left unchanged)
│   └── RunawayJourney      a journey took more instantaneous steps than allowed for one input
└── AnalyticsError          an analysis could not run on the data given
"""

from __future__ import annotations

from dataclasses import dataclass


class RumboError(Exception):
    """Root of every error rumbo raises on purpose."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a document: where it is and what to do about it."""

    message: str
    path: str = "$"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = self.file or "<journey>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: {self.path}: {self.message}"
        if self.hint:
            text += f" — {self.hint}"
        return text


class ProblemsFound(RumboError):
    """Documents with one or more problems; all of them are listed, one per line, under `heading`."""

    heading = "{count} problem{s}"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(self.heading.format(count=count, s="s" if count != 1 else "") + f":\n{lines}")


class JourneyInvalid(ProblemsFound):
    """A journey document has one or more problems; all of them are listed."""

    heading = "journey has {count} problem{s}"


class ExpressionError(RumboError):
    """A predicate is not valid; `column` is the 0-based offset of the fault in `source`."""

    def __init__(self, message: str, source: str, column: int = 0, hint: str | None = None) -> None:
        self.message = message
        self.source = source
        self.column = column
        self.hint = hint
        text = f"{message} in {source!r} at column {column + 1}"
        if hint:
            text += f" — {hint}"
        super().__init__(text)


class DurationInvalid(RumboError):
    """A duration string did not parse."""

    def __init__(self, text: object) -> None:
        self.text = text
        super().__init__(
            f"{text!r} is not a duration — write a number and a unit, e.g. '90s', '15m', '1h', '3d', '2w' "
            "or combined '1d12h'"
        )


class EngineError(RumboError):
    """The engine could not apply an input."""


class IllegalInput(EngineError):
    """The input does not apply to the customer's current state; nothing was changed."""

    def __init__(
        self,
        reason: str,
        *,
        journey: str | None = None,
        node: str | None = None,
        run: str | None = None,
        input_kind: str | None = None,
    ) -> None:
        self.reason = reason
        self.journey = journey
        self.node = node
        self.run = run
        self.input_kind = input_kind
        parts = [
            f"{k}={v}"
            for k, v in (("journey", journey), ("node", node), ("run", run), ("input", input_kind))
            if v
        ]
        super().__init__(f"{reason} ({', '.join(parts)})" if parts else reason)


class RunawayJourney(EngineError):
    """A run took more instantaneous steps for one input than the bound allows."""

    def __init__(self, journey: str, node: str, steps: int) -> None:
        self.journey = journey
        self.node = node
        self.steps = steps
        super().__init__(
            f"journey {journey!r} took {steps} steps without waiting, last at node {node!r} — "
            "a cycle without a wait or wait_for would loop forever; add a wait to the loop"
        )


class AnalyticsError(RumboError):
    """An analysis could not run on the data given."""
