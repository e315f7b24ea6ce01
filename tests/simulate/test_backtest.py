"""Backtests replay recorded history through a draft: who would have entered, counterfactual sends (never
sent), collisions and caps against what actually ran."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rumbo.simulate.backtest import backtest, parse_day
from rumbo.simulate.errors import SimulationError
from rumbo.simulate.history import Delivered, from_messages
from tests.simulate.known import HOUR, JOURNEY, journey

T0 = parse_day("2026-03-02", "--from")


def message(customer: str, at: float, event: str | None = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"userId": customer, "timestamp": at, "messageId": f"{customer}-{at}-{event}"}
    if event is None:
        return {**base, "type": "identify", **fields}
    return {**base, "type": "track", "event": event, "properties": fields}


def history() -> list[dict[str, Any]]:
    consent = {"email": "{c}@example.com", "timezone": "UTC", "consent": {"email": True}}
    lines = [
        message(
            c,
            T0 - 86400,
            traits={k: (v.format(c=c) if isinstance(v, str) else v) for k, v in consent.items()},
        )
        for c in ("ana", "ben", "cy")
    ]
    lines += [
        message("ana", T0 + 10 * HOUR, "cart", value=50),  # enters, is reminded an hour later
        message("ben", T0 + 11 * HOUR, "cart", value=50),
        message("ben", T0 + 11.5 * HOUR, "order", revenue=50),  # buys before the reminder: exits
        message("cy", T0 + 12 * HOUR, "cart", value=5),  # too small to enter
        message("ana", T0 + 30 * 86400, "cart", value=50),  # after --to: not replayed
    ]
    return lines


def test_the_draft_enters_sends_counterfactually_and_collides_with_actual_deliveries(tmp_path: Path) -> None:
    recorded = from_messages(history(), source="test")
    recorded.deliveries = [
        Delivered("ana", "newsletter", "email", "weekly", T0 + 9 * HOUR, False, False),
        Delivered("ana", "promo", "email", "sale", T0 - 2 * 86400, False, False),
        Delivered("cy", "newsletter", "email", "weekly", T0 + 9 * HOUR, False, False),
    ]
    report = backtest(journey(tmp_path, JOURNEY, "reminder"), recorded, T0, T0 + 7 * 86400)
    assert report.entrants == ["ana", "ben"]
    assert report.converted == 1  # ben ordered within the goal window, before any reminder went out
    assert [(s.customer, s.node, s.template, s.counterfactual) for s in report.sends] == [
        ("ana", "remind", "reminder", True)
    ]
    send = report.sends[0]
    assert send.at.startswith("2026-03-02T11:00")
    assert send.collides_with == ["newsletter"]
    # Two deliveries to ana in the week before plus one more: over the 1-per-day cap (newsletter at 09:00).
    assert send.over_cap
    assert report.collisions == {"newsletter": 1}
    assert report.over_cap == 1
    assert report.actual_deliveries == 2
    assert report.events == 4  # the identifies are before --from; ana's later cart is after --to
    assert report.to_dict()["sends"][0]["counterfactual"] is True


def test_without_delivery_records_the_report_says_collisions_cannot_be_checked(tmp_path: Path) -> None:
    report = backtest(journey(tmp_path, JOURNEY, "reminder"), from_messages(history()), T0, T0 + 86400)
    assert len(report.sends) == 1 and not report.sends[0].collides_with
    assert any("no delivery records" in note for note in report.notes)


def test_bad_periods_are_refused_with_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="must be after --from"):
        backtest(journey(tmp_path, JOURNEY, "reminder"), from_messages(history()), T0, T0)
    with pytest.raises(SimulationError, match="YYYY-MM-DD"):
        parse_day("next tuesday", "--from")
