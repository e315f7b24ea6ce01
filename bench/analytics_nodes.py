"""Node health for 10 journeys over 10,000,000 records (transitions + conversions) on DuckDB.

Target: under 2 seconds. The reference measured in the same run is DuckDB merely scanning and counting the
same files (every column the analysis reads), so the ratio shows what the analysis costs on top of I/O.
Transitions carry `since` (when the run entered the node it leaves), as the engine records them; the run
also times the query archives without it still need (pairing each visit with the move that left it).

Data are synthetic, generated with numpy into a temporary archive: each journey is
start -(1h)-> split -> email (A) | sms (B) | exit (holdout) -> wait2 -> thank (ordered) | offer (3d timeout)
-> end, with some runs leaving on exit_on or still waiting; one arm converts worse in half the journeys.

    .venv/bin/python bench/analytics_nodes.py [--records 10000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rumbo.analytics import Archive, open_engine
from rumbo.analytics.health import TIME_IN_NODE_ACYCLIC_SQL, node_health

START = 1_793_491_200.0  # 2026-11-01 00:00 UTC
HOUR, DAY = 3600.0, 86400.0

# A template is one way through the journey: (from_node, to_node, cause, seconds after the previous step).
# None as from_node is the entry, None as to_node the exit. Variants are carried after the split.
TEMPLATES: list[tuple[str | None, list[tuple[str | None, str | None, str, float]]]] = []


def _arm_templates(
    arm: str, channel: str
) -> list[tuple[str | None, list[tuple[str | None, str | None, str, float]]]]:
    head: list[tuple[str | None, str | None, str, float]] = [
        (None, "start", "entered", 0.0),
        ("start", "split", "timeout", HOUR),
        ("split", channel, "next", 0.0),
        (channel, "wait2", "next", 60.0),
    ]
    return [
        (
            arm,
            [
                *head,
                ("wait2", "thank", "event", DAY),
                ("thank", "end", "next", 0.0),
                ("end", None, "next", 0.0),
            ],
        ),
        (
            arm,
            [
                *head,
                ("wait2", "offer", "timeout", 3 * DAY),
                ("offer", "end", "next", 0.0),
                ("end", None, "next", 0.0),
            ],
        ),
        (arm, [*head, ("wait2", None, "exit_on", 2 * DAY)]),
        (arm, head),  # still waiting in wait2
    ]


TEMPLATES = [
    *_arm_templates("A", "email"),
    *_arm_templates("B", "sms"),
    (
        "holdout",
        [(None, "start", "entered", 0.0), ("start", "split", "timeout", HOUR), ("split", None, "next", 0.0)],
    ),
    (None, [(None, "start", "entered", 0.0)]),  # still waiting in start
]
# Template probabilities for a healthy journey and for one whose sms arm converts worse.
HEALTHY = np.array([0.18, 0.14, 0.04, 0.04, 0.18, 0.14, 0.04, 0.04, 0.10, 0.10])
WEAK_SMS = np.array([0.18, 0.14, 0.04, 0.04, 0.10, 0.20, 0.08, 0.02, 0.10, 0.10])
CONVERTS = [True, False, False, False, True, False, False, False, False, False]  # ordered runs convert


def generate(archive: Archive, records: int, journeys: int = 10, seed: int = 7) -> int:
    """Write about ``records`` transitions + conversions into ``archive``; returns the exact count."""
    rng = np.random.default_rng(seed)
    mean_rows = float(np.dot(HEALTHY, [len(t[1]) + c for t, c in zip(TEMPLATES, CONVERTS, strict=True)]))
    runs_per_journey = int(records / mean_rows / journeys)
    transitions: list[pa.Table] = []
    conversions: list[pa.Table] = []
    next_run = 0
    for j in range(journeys):
        probabilities = WEAK_SMS if j % 2 else HEALTHY
        choice = rng.choice(len(TEMPLATES), size=runs_per_journey, p=probabilities)
        for index, (variant, steps) in enumerate(TEMPLATES):
            count = int(np.count_nonzero(choice == index))
            if not count:
                continue
            run_ids = np.arange(next_run, next_run + count)
            next_run += count
            entered = START + rng.uniform(0, 21 * DAY, count)
            jitter = rng.exponential(HOUR, (count, len(steps))) * (np.array([s[3] for s in steps]) > 0)
            times = entered[:, None] + np.cumsum(np.array([s[3] for s in steps])[None, :] + jitter, axis=1)
            transitions.append(_steps_table(j, run_ids, steps, variant, times))
            if CONVERTS[index]:
                conversions.append(_conversion_table(j, run_ids, times[:, -1]))
    transition = pa.concat_tables(transitions)
    conversion = pa.concat_tables(conversions)
    archive.append("transition", transition)
    archive.append("conversion", conversion)
    return int(transition.num_rows + conversion.num_rows)


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(pa.array(numbers), pa.string()), "")


def _steps_table(
    journey: int,
    run_ids: np.ndarray,
    steps: list[tuple[str | None, str | None, str, float]],
    variant: str | None,
    times: np.ndarray,
) -> pa.Table:
    count, width = times.shape
    runs = np.repeat(run_ids, width)
    # A move out of a node says when the run entered it: the time of the step before; none on entry.
    since = np.concatenate([np.full((count, 1), np.nan), times[:, :-1]], axis=1).reshape(-1)
    step_index = np.tile(np.arange(width), count)
    after_split = np.array([s[0] not in (None, "start") for s in steps])[step_index]

    def column(position: int) -> pa.Array:
        values = pa.array([s[position] for s in steps], pa.string())
        return values.take(pa.array(step_index))

    variants = pa.array(np.where(after_split, variant or "", ""), pa.string())
    variants = pc.if_else(
        pa.array(after_split & (variant is not None)), variants, pa.nulls(len(runs), pa.string())
    )
    return pa.table(
        {
            "workspace": pa.array(["w"] * len(runs), pa.string()),
            "customer": _ids("c", runs % 700_000),
            "journey": pa.array([f"journey-{journey}"] * len(runs), pa.string()),
            "version": pa.array(np.ones(len(runs), dtype=np.int64)),
            "run": _ids("r", runs),
            "from_node": column(0),
            "to_node": column(1),
            "cause": column(2),
            "at": pa.array(times.reshape(-1)),
            "variant": variants,
            "since": pa.array(since, from_pandas=True),
        }
    )


def _conversion_table(journey: int, run_ids: np.ndarray, times: np.ndarray) -> pa.Table:
    n = len(run_ids)
    return pa.table(
        {
            "customer": _ids("c", run_ids % 700_000),
            "journey": pa.array([f"journey-{journey}"] * n, pa.string()),
            "version": pa.array(np.ones(n, dtype=np.int64)),
            "run": _ids("r", run_ids),
            "goal": pa.array(["order_completed"] * n, pa.string()),
            "value": pa.array(np.full(n, 40.0)),
            "at": pa.array(times),
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="write the archive here and keep it")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is reported")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="rumbo-bench-"))
    try:
        archive = Archive(root)
        started = time.perf_counter()
        if not archive.files("transition"):
            count = generate(archive, args.records)
            print(f"generated {count:,} records in {time.perf_counter() - started:.1f}s under {root}")
        engine = open_engine(archive)
        # The reference reads every column node health reads, so the ratio is the analysis over pure I/O.
        scan_sql = (
            "SELECT (SELECT count(*) FROM transition WHERE run <> '' AND \"at\" IS NOT NULL "
            "AND coalesce(from_node, to_node, cause, variant, journey, CAST(version AS VARCHAR)) IS NOT NULL)"
            " "
            "+ (SELECT count(*) FROM conversion WHERE run <> '' AND \"at\" IS NOT NULL) AS n"
        )
        scan = _best(lambda: engine.query(scan_sql), args.repeat)
        results = []
        counts = _best(lambda: results.append(node_health(engine, timing=False)), args.repeat)
        full = _best(lambda: results.append(node_health(engine)), args.repeat)
        health = results[-1]
        pairing_sql = TIME_IN_NODE_ACYCLIC_SQL.format(where="TRUE")
        paired = _best(lambda: engine.query(pairing_sql), args.repeat)
        flagged = sorted({(f.journey, f.node) for f in health.flags if f.flagged})
        records = engine.query(scan_sql).column("n")[0].as_py()
        files = len(archive.files("transition")) + len(archive.files("conversion"))
        print(f"records: {records:,} in {files} files")
        print(f"node health rows: {health.nodes.num_rows}, flagged nodes: {len(flagged)}")
        print(f"scan/count (reference):           {scan:7.3f}s")
        print(
            f"node health, counts and flags:    {counts:7.3f}s  ratio {counts / scan:5.1f}x  (target < 2 s)"
        )
        print(f"node health with median times:    {full:7.3f}s  ratio {full / scan:5.1f}x  (target < 2 s)")
        print(f"  time in node by pairing visits (archives without since), that query alone: {paired:.3f}s")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def _best(action: Callable[[], object], repeat: int) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


if __name__ == "__main__":
    main()
