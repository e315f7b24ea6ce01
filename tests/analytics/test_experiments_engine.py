"""Experiments over records written by rumbo's own engine, replayed on virtual time.

The example cart-recovery journey splits runs A 50 / B 50 with a 10% holdout. Its decision, transition and
conversion records go into an archive; the analysis must count the same arms and conversions as a plain
count over the records, and find no sample ratio mismatch against the journey file's weights.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import ENGINES, open_engine
from rumbo.analytics.experiments import (
    ExperimentRuns,
    analyse_experiments,
    arms_from_decisions_sql,
    arms_from_transitions_sql,
    weights_from_journeys,
)
from rumbo.engine.step import Engine
from rumbo.journey.load import load_journey
from rumbo.records import Conversion, Decision, Transition, record_kind, record_to_dict
from rumbo.replay.virtual import VirtualRuntime

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "journeys" / "cart-recovery.yaml"
T0 = 1_793_000_000.0  # 2026-10-26
DAY = 86400.0


@pytest.fixture(scope="module")
def replayed(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Archive, list[Transition | Decision | Conversion]]:
    runtime = VirtualRuntime(Engine([load_journey(EXAMPLE)]))
    messages = []
    for i in range(600):
        who = f"u{i:03d}"
        at = T0 + i * 900.0
        messages.append(
            {
                "type": "track",
                "event": "cart_abandoned",
                "userId": who,
                "messageId": f"cart-{i}",
                "timestamp": at,
                "properties": {"value": 50, "cart_id": f"c{i}"},
            }
        )
        if i % 4 == 0:
            messages.append(
                {
                    "type": "track",
                    "event": "order_completed",
                    "userId": who,
                    "messageId": f"order-{i}",
                    "timestamp": at + 2 * DAY,
                    "properties": {"revenue": 80},
                }
            )
    runtime.replay(messages, until=T0 + 30 * DAY)
    records = [c for c in runtime.commands if isinstance(c, Transition | Decision | Conversion)]
    archive = Archive(tmp_path_factory.mktemp("replayed"))
    by_kind: dict[str, list[dict[str, object]]] = {}
    for record in records:
        by_kind.setdefault(record_kind(record), []).append(record_to_dict(record))
    for kind, rows in by_kind.items():
        archive.append(kind, rows)
    return archive, records


@pytest.mark.parametrize("engine", ENGINES)
def test_arms_match_a_plain_count_of_the_engine_records(
    replayed: tuple[Archive, list[Transition | Decision | Conversion]], engine: str
) -> None:
    archive, records = replayed
    arm_of = {r.run: r.chosen for r in records if isinstance(r, Decision) and r.policy == "split"}
    converted = {r.run for r in records if isinstance(r, Conversion)}
    runs = Counter(arm_of.values())
    conversions = Counter(arm for run, arm in arm_of.items() if run in converted)
    assert sum(runs.values()) == 600 and set(runs) == {"A", "B", "holdout"}

    weights = weights_from_journeys([str(EXAMPLE)])
    result = analyse_experiments(open_engine(archive, engine), weights=weights)
    (split,) = result.splits
    assert (split.journey, split.node, split.control) == ("cart-recovery", "split", "holdout")
    assert {a.variant: a.runs for a in split.arms} == dict(runs)
    assert {a.variant: a.conversions for a in split.arms} == {k: conversions[k] for k in runs}
    assert split.srm is not None and not split.srm.mismatch
    # Every fourth customer orders whatever arm they are in, so no arm should beat the holdout for sure.
    assert all(c.sequential.p_value > 0.05 for c in split.comparisons)


def test_transitions_alone_give_the_same_arms_as_the_decisions(
    replayed: tuple[Archive, list[Transition | Decision | Conversion]],
) -> None:
    archive, _ = replayed
    engine = open_engine(archive)
    from_decisions = ExperimentRuns.from_table(engine.query(arms_from_decisions_sql()))
    from_transitions = ExperimentRuns.from_table(engine.query(arms_from_transitions_sql()))
    assert Counter(zip(from_decisions.node, from_decisions.variant, strict=True)) == Counter(
        zip(from_transitions.node, from_transitions.variant, strict=True)
    )
    assert sorted(from_decisions.split_at.tolist()) == sorted(from_transitions.split_at.tolist())
