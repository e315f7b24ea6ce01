"""Attribution read from an archive, on DuckDB and on ClickHouse, against paths worked out by hand.

The fixture's customers (days after T0):
- c1: web event (0), email delivery delivered then opened (1, one send, journey welcome, node email1),
  paid event with campaign black-friday (2), order_completed event and conversion (3, value 100, recorded
  by two journeys at the same moment), sms delivery (5), nothing after: a path that did not convert.
- c2: paid event (0), web event (40), conversion (41, value 50) — the paid touch is outside a 30-day window.
- c3: conversion (2) with no touchpoint at all: unattributed.
- c4: a bounced email (not a touch) and a web event (1); no conversion.
- c5: web (0), web (0.5), email-channel track event (1), conversion (2) with no value.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.attribution.analysis import AttributionResult, attribute
from rumbo.analytics.attribution.touchpoints import paths_from_archive
from rumbo.analytics.engines import ENGINES, open_engine
from rumbo.errors import AnalyticsError

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


def _event(
    customer: str, day: float, channel: str, name: str = "page_viewed", **extra: Any
) -> dict[str, Any]:
    return {
        "workspace": "w",
        "customer": customer,
        "messageId": f"{customer}-{day}-{name}",
        "type": "track",
        "event": name,
        "userId": customer,
        "channel": channel,
        "timestamp": T0 + day * DAY,
        "received_at": T0 + day * DAY,
        **extra,
    }


def _delivery(
    customer: str, day: float, channel: str, journey: str, node: str, status: str
) -> dict[str, Any]:
    return {
        "workspace": "w",
        "customer": customer,
        "journey": journey,
        "version": 1,
        "run": f"run-{customer}-{journey}",
        "node": node,
        "send": f"send-{customer}-{journey}-{node}",
        "channel": channel,
        "template": "t",
        "status": status,
        "at": T0 + day * DAY,
    }


def _conversion(customer: str, day: float, value: float | None, journey: str = "welcome") -> dict[str, Any]:
    return {
        "workspace": "w",
        "customer": customer,
        "journey": journey,
        "version": 1,
        "run": f"run-{customer}-{journey}",
        "goal": "order_completed",
        "value": value,
        "at": T0 + day * DAY,
    }


def build(root: Path) -> Archive:
    archive = Archive(root)
    archive.append(
        "event",
        [
            _event("c1", 0, "web"),
            _event("c1", 2, "paid", context={"campaign": {"name": "black-friday"}}),
            _event("c1", 3, "web", "order_completed", properties={"revenue": 100}),
            _event("c2", 0, "paid"),
            _event("c2", 40, "web"),
            _event("c2", 41, "web", "order_completed", properties={"revenue": 50}),
            _event("c4", 1, "web"),
            _event("c5", 0, "web"),
            _event("c5", 0.5, "web"),
            _event("c5", 1, "email", "newsletter_read"),
            _event("c5", 2, "web", "order_completed"),
            {**_event("c4", 1.5, "web"), "type": "identify"},  # not a touch
        ],
    )
    archive.append(
        "delivery",
        [
            _delivery("c1", 1, "email", "welcome", "email1", "delivered"),
            _delivery("c1", 1.1, "email", "welcome", "email1", "opened"),
            _delivery("c1", 5, "sms", "winback", "sms1", "delivered"),
            _delivery("c4", 0.5, "email", "welcome", "email1", "bounced"),
        ],
    )
    archive.append(
        "conversion",
        [
            _conversion("c1", 3, 100.0),
            _conversion("c1", 3, 100.0, journey="cart-recovery"),
            _conversion("c2", 41, 50.0),
            _conversion("c3", 2, 20.0),
            _conversion("c5", 2, None),
        ],
    )
    return archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build(tmp_path_factory.mktemp("attribution"))


def _credit(result: AttributionResult, column: str = "conversions") -> dict[str, float]:
    table = result.to_table()
    return dict(zip(table.column(result.by).to_pylist(), table.column(column).to_pylist(), strict=True))


@pytest.mark.parametrize("engine", ENGINES)
def test_paths_are_cut_at_conversions_inside_the_window(archive: Archive, engine: str) -> None:
    paths = paths_from_archive(open_engine(archive, engine), by="channel", window=30 * DAY).without_repeats()
    seen = sorted((tuple(paths.path(i)), paths.conversions[i], paths.values[i]) for i in range(paths.size))
    assert seen == [
        (("sms",), 0.0, 0.0),
        (("web",), 0.0, 0.0),
        (("web",), 1.0, 50.0),
        (("web", "email"), 1.0, 0.0),
        (("web", "email", "paid"), 1.0, 100.0),
    ]
    assert paths.unattributed_conversions == 1.0
    assert paths.unattributed_value == 20.0


@pytest.mark.parametrize("engine", ENGINES)
def test_linear_credit_by_channel(archive: Archive, engine: str) -> None:
    # c1 splits 1 conversion (100) three ways; c2 gives web 1 (50); c5 splits 1 between web and email.
    result = attribute(open_engine(archive, engine), "linear", by="channel")
    assert _credit(result) == pytest.approx(
        {"web": 1 + 1 / 3 + 1 / 2, "email": 1 / 3 + 1 / 2, "paid": 1 / 3, "sms": 0}
    )
    assert _credit(result, "value") == pytest.approx(
        {"web": 100 / 3 + 50, "email": 100 / 3, "paid": 100 / 3, "sms": 0}
    )
    assert result.unattributed_conversions == 1.0


def test_first_and_last_touch_by_channel(archive: Archive) -> None:
    engine = open_engine(archive)
    assert _credit(attribute(engine, "first")) == {"web": 3.0, "email": 0.0, "paid": 0.0, "sms": 0.0}
    assert _credit(attribute(engine, "last")) == {"web": 1.0, "email": 1.0, "paid": 1.0, "sms": 0.0}


def test_a_longer_window_reaches_the_old_paid_touch(archive: Archive) -> None:
    result = attribute(open_engine(archive), "first", window=60 * DAY)
    assert _credit(result) == {"web": 2.0, "paid": 1.0, "email": 0.0, "sms": 0.0}


def test_keep_repeats_counts_every_page_view(archive: Archive) -> None:
    # c5 keeps web twice: linear gives web 2/3 and email 1/3 of its conversion.
    result = attribute(open_engine(archive), "linear", keep_repeats=True)
    assert _credit(result) == pytest.approx(
        {"web": 1 + 1 / 3 + 2 / 3, "email": 1 / 3 + 1 / 3, "paid": 1 / 3, "sms": 0}
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_by_journey_node_and_campaign(archive: Archive, engine: str) -> None:
    db = open_engine(archive, engine)
    by_journey = attribute(db, "last", by="journey")
    assert _credit(by_journey) == {"welcome": 1.0, "winback": 0.0}
    assert by_journey.unattributed_conversions == 3.0
    assert _credit(attribute(db, "last", by="node")) == {"welcome/email1": 1.0, "winback/sms1": 0.0}
    # Campaigns: events' context.campaign.name and deliveries' journeys; c1's path is welcome > black-friday.
    assert _credit(attribute(db, "first", by="campaign")) == {
        "welcome": 1.0,
        "black-friday": 0.0,
        "winback": 0.0,
    }


def test_a_named_conversion_event_instead_of_records(archive: Archive) -> None:
    # order_completed events: c1 (100), c2 (50), c5 (no revenue). c3's record has no event, so it is gone.
    result = attribute(open_engine(archive), "last", conversion_event="order_completed")
    assert _credit(result) == {"web": 1.0, "email": 1.0, "paid": 1.0, "sms": 0.0}
    assert _credit(result, "value") == {"web": 50.0, "email": 0.0, "paid": 100.0, "sms": 0.0}
    assert result.unattributed_conversions == 0.0


def test_both_engines_give_the_same_numbers_for_every_model(archive: Archive) -> None:
    for model in ("markov", "shapley", "time_decay", "position", "linear"):
        results = [attribute(open_engine(archive, e), model).to_dict() for e in ENGINES]
        for r in results:
            r["parameters"].pop("engine")
        # Times reach Python as epoch seconds computed by each engine, equal to the last bit or two.
        credits = [r.pop("credit") for r in results]
        assert results[0] == results[1], model
        assert [row[results[0]["by"]] for row in credits[0]] == [row[results[1]["by"]] for row in credits[1]]
        for a, b in zip(credits[0], credits[1], strict=True):
            assert {k: v for k, v in a.items() if k != "channel"} == pytest.approx(
                {k: v for k, v in b.items() if k != "channel"}, rel=1e-12, abs=1e-12
            ), model


def test_markov_on_the_fixture_by_hand(archive: Archive) -> None:
    # Paths: web>email>paid (conv), web (conv), web>email (conv), web (null), sms (null).
    # start: web 4/5, sms 1/5. web: email 2/4, conv 1/4, null 1/4. email: paid 1/2, conv 1/2. paid: conv 1.
    # sms: null. P(email) = 1/2 + 1/2 = 1; P(web) = 1/2 + 1/4 = 3/4; P = 4/5 · 3/4 = 3/5 (3 of 5 converted).
    # Without web: 0 (effect 1). Without email: P(web) = 1/4, P = 1/5 (effect 2/3). Without paid:
    # P(email) = 1/2, P(web) = 1/4 + 1/4 = 1/2, P = 2/5 (effect 1/3). Without sms: 3/5 (effect 0).
    # Three conversions shared 1 : 2/3 : 1/3 -> web 1.5, email 1, paid 0.5.
    result = attribute(open_engine(archive), "markov")
    assert _credit(result) == pytest.approx({"web": 1.5, "email": 1.0, "paid": 0.5, "sms": 0.0})
    assert _credit(result, "removal_effect") == pytest.approx(
        {"web": 1.0, "email": 2 / 3, "paid": 1 / 3, "sms": 0.0}
    )
    assert result.to_dict()["chain_conversion_probability"] == pytest.approx(0.6)


def test_unknown_model_and_key_are_clear_errors(archive: Archive) -> None:
    with pytest.raises(AnalyticsError, match="unknown attribution model 'magic'"):
        attribute(open_engine(archive), "magic")
    with pytest.raises(AnalyticsError, match="cannot attribute by 'device'"):
        attribute(open_engine(archive), "last", by="device")


def test_an_empty_archive_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnalyticsError, match="no touchpoints by channel and no conversion records"):
        attribute(open_engine(Archive(tmp_path)), "markov")


@pytest.mark.parametrize("model", ["markov", "shapley", "linear"])
def test_touchpoints_without_any_conversion_get_no_credit(tmp_path: Path, model: str) -> None:
    archive = Archive(tmp_path)
    archive.append("event", [_event("c1", 0, "web"), _event("c1", 1, "email"), _event("c2", 0, "paid")])
    result = attribute(open_engine(archive), model)
    assert _credit(result) == {"web": 0.0, "email": 0.0, "paid": 0.0}
    assert result.paths == 2
