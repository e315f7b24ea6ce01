"""What the demo did, read back from the analytics archive, the store and what the local servers received, and
printed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from rumbo.analytics.archive import Archive
from rumbo.analytics.engines import DuckDBEngine
from rumbo.delivery.message import decode_order
from rumbo.delivery.relay import RoundStats
from rumbo.demo.sinks import FILES, MAILBOX, SinkCounts
from rumbo.engine.commands import Send
from rumbo.engine.state import Customer
from rumbo.journey.model import Journey, SplitNode
from rumbo.replay.summary import JourneySummary, count_waiting
from rumbo.runtime.codec import decode
from rumbo.store.base import WorkspaceKeys
from rumbo.store.sql import SqlStore

CHANNELS = ("email", "sms", "push", "offline", "inbox")


@dataclass(slots=True)
class DemoResult:
    home: Path
    journeys_dir: Path
    journeys: list[Journey]
    days: int
    customers: int
    summaries: dict[str, JourneySummary]
    sends_per_customer: Counter[int] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)  # sends the gate held back for good, by reason
    deferred: Counter[str] = field(default_factory=Counter)  # sends it moved later, by reason
    delivered: Counter[str] = field(default_factory=Counter)  # outbox entries the relay sent, by channel
    failed: Counter[str] = field(default_factory=Counter)  # outbox entries that failed for good, by channel
    pending: int = 0  # outbox entries still waiting (a retry due after the period)
    files: Counter[str] = field(default_factory=Counter)  # lines written per channel file
    events_stored: int = 0
    events_posted: int = 0
    runtime_inputs: int = 0
    unprocessed: int = 0
    dead_letters: int = 0
    example_customer: str | None = None
    sinks: SinkCounts = field(default_factory=SinkCounts)
    relay: RoundStats = field(default_factory=RoundStats)
    inbox_exported: int = 0
    archive_rows: dict[str, int] = field(default_factory=dict)
    archive_dir: Path | None = None  # the workspace's folder in the exporter's archive
    keys: WorkspaceKeys | None = None
    timings: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # processor seconds per process

    @property
    def sends(self) -> int:
        return sum(k * v for k, v in self.sends_per_customer.items())


def outbox_counts(store: SqlStore, workspace: str) -> dict[str, int]:
    """Outbox entries by status (pending, sent, failed)."""
    rows = store._query(
        "SELECT status, COUNT(*) FROM outbox WHERE workspace = ? GROUP BY status", (workspace,)
    )
    return {str(status): int(count) for status, count in rows}


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as file:
        return sum(1 for _ in file)


def _journey_summaries(
    engine: DuckDBEngine,
    customers: Mapping[str, Customer],
    pending: Sequence[Send],
    suppressions: Sequence[Mapping[str, Any]],
) -> dict[str, JourneySummary]:
    """What `rumbo.replay.summary.summarize` tells from the records, told by the archive's tables (one
    grouping each instead of a million records read back into Python), plus the sends still waiting in the
    outbox, which have no delivery record yet."""
    out: dict[str, JourneySummary] = {}

    def of(journey: str) -> JourneySummary:
        return out.setdefault(journey, JourneySummary(journey))

    for row in engine.query(_TRANSITIONS).to_pylist():
        summary, n = of(row["journey"]), row["n"]
        if row["cause"] == "entered":
            summary.entered += n
        if row["to_node"] is not None:
            summary.node_entered[row["to_node"]] += n
        else:
            summary.exited[row["cause"]] += n
    for row in engine.query(_CONVERSIONS).to_pylist():
        summary = of(row["journey"])
        summary.converted, summary.value = row["runs"], row["value"]
    for row in engine.query(_VARIANTS).to_pylist():
        summary = of(row["journey"])
        summary.variant_runs[row["variant"]] += row["runs"]
        summary.variant_conversions[row["variant"]] += row["converted"]
    for row in engine.query(_SENDS).to_pylist():
        of(row["journey"]).sends[row["channel"]] += row["n"]
    for send in pending:
        of(send.journey).sends[send.channel] += 1
    for row in suppressions:
        of(row["journey"]).suppressed[row["reason"]] += row["n"]
    count_waiting(out, customers)
    return out


_TRANSITIONS = "SELECT journey, to_node, cause, count(*) AS n FROM transition GROUP BY ALL"
# A run converts once however many conversions it records; its value is its first conversion's.
_CONVERTED_RUNS = (
    'SELECT journey, run, arg_min(coalesce(value, 0), "at") AS value FROM conversion GROUP BY journey, run'
)
_CONVERSIONS = (
    f"SELECT journey, count(*) AS runs, sum(value) AS value FROM ({_CONVERTED_RUNS}) GROUP BY journey"
)
_VARIANTS = f"""
WITH assigned AS (
    SELECT journey, run, arg_max(variant, "at") AS variant FROM transition WHERE variant IS NOT NULL
    GROUP BY journey, run
)
SELECT a.journey, a.variant, count(*) AS runs, count(c.run) AS converted
FROM assigned a LEFT JOIN ({_CONVERTED_RUNS}) c ON c.journey = a.journey AND c.run = a.run
GROUP BY a.journey, a.variant
"""
_SENDS = "SELECT journey, channel, count(DISTINCT send) AS n FROM delivery GROUP BY ALL"
_SENDS_PER_CUSTOMER = "SELECT customer, count(DISTINCT send) AS n FROM delivery GROUP BY customer"
_SUPPRESSIONS = (
    "SELECT journey, reason, deferred_until IS NULL AS dropped, count(*) AS n FROM suppression GROUP BY ALL"
)


def collect(
    store: SqlStore,
    workspace: str,
    journeys_dir: Path,
    journeys: list[Journey],
    home: Path,
    days: int,
    archive: Path,
) -> DemoResult:
    """Everything the summary shows: what the journeys did from the workspace's analytics archive (written
    to the end: the exporter's last round has run), the rest from the store's tables and the files
    delivery wrote."""
    engine = DuckDBEngine(Archive(archive))
    customers: dict[str, Customer] = {
        customer: decode(customer, bytes(state))
        for customer, state in store._query(
            "SELECT customer, state FROM customer_state WHERE workspace = ?", (workspace,)
        )
    }
    # Sends still in the outbox (a retry due after the period) have no delivery record yet.
    archived = set(engine.query("SELECT DISTINCT send FROM delivery").column(0).to_pylist())
    pending = [
        decode_order(bytes(body)).send
        for key, body in store._query(
            "SELECT key, body FROM outbox WHERE workspace = ? AND status = 'pending'", (workspace,)
        )
        if key not in archived
    ]
    suppressions = engine.query(_SUPPRESSIONS).to_pylist()
    summaries = _journey_summaries(engine, customers, pending, suppressions)
    result = DemoResult(home, journeys_dir, journeys, days, len(customers), summaries)
    per_customer = Counter(
        {row["customer"]: row["n"] for row in engine.query(_SENDS_PER_CUSTOMER).to_pylist()}
    )
    per_customer.update(send.customer for send in pending)
    result.sends_per_customer = Counter(per_customer[c] for c in customers)
    for row in suppressions:
        (result.dropped if row["dropped"] else result.deferred)[row["reason"]] += row["n"]
    for channel, status, count in store._query(
        "SELECT channel, status, COUNT(*) FROM deliveries WHERE workspace = ? GROUP BY channel, status",
        (workspace,),
    ):
        if status == "sent":
            result.delivered[channel] += count
        elif status == "failed":
            result.failed[channel] += count
    result.pending = outbox_counts(store, workspace).get("pending", 0)
    for channel in ("sms", "push"):
        result.files[channel] = _lines(home / FILES / f"{channel}.jsonl")
    result.files["offline"] = _lines(home / FILES / workspace / "offline.jsonl")
    result.events_stored, result.unprocessed = (
        int(v or 0)
        for v in store._query(
            "SELECT COUNT(*), SUM(processed_at IS NULL) FROM events WHERE workspace = ?", (workspace,)
        )[0]
    )
    result.dead_letters = int(
        store._query("SELECT COUNT(*) FROM dead_letters WHERE workspace = ?", (workspace,))[0][0]
    )
    if per_customer:
        # Someone with a full story to look at: the customer who got the most messages (the first by id
        # among equals, so that the same seed names the same customer).
        customer = min(per_customer, key=lambda c: (-per_customer[c], c))
        user = store._query(
            "SELECT value FROM identities WHERE workspace = ? AND customer = ? AND kind = 'user_id'",
            (workspace, customer),
        )
        result.example_customer = str(user[0][0]) if user else customer
    return result


def _journey_table(result: DemoResult) -> Table:
    table = Table(title="Journeys", title_justify="left")
    for column in ("journey", "entered", "converted", "rate", "value", "exited", "waiting", "sends"):
        table.add_column(column, justify="left" if column == "journey" else "right", no_wrap=True)
    for journey in result.journeys:
        s = result.summaries.get(journey.id) or JourneySummary(journey.id)
        has_goal = journey.goal is not None
        rate = f"{s.converted / s.entered:.1%}" if s.entered and has_goal else "–"
        table.add_row(
            journey.id,
            f"{s.entered:,}",
            f"{s.converted:,}" if has_goal else "–",
            rate,
            f"{s.value:,.0f}" if has_goal else "–",
            f"{sum(s.exited.values()):,}",
            f"{s.waiting:,}",
            f"{sum(s.sends.values()):,}",
        )
    return table


def _node_table(result: DemoResult) -> Table:
    nodes = Table(title="Per node: customers who reached it", title_justify="left")
    nodes.add_column("journey")
    nodes.add_column("nodes (reached)")
    for journey in result.journeys:
        reached = result.summaries.get(journey.id) or JourneySummary(journey.id)
        nodes.add_row(journey.id, " · ".join(f"{n} {reached.node_entered[n]:,}" for n in journey.nodes))
    return nodes


def _ab_tables(result: DemoResult) -> Iterator[Table]:
    for journey in result.journeys:
        tested = result.summaries.get(journey.id)
        splits = [n for n in journey.nodes.values() if isinstance(n, SplitNode)]
        if tested is None or not splits:
            continue
        ab = Table(title=f"A/B test in {journey.id} (split '{splits[0].id}')", title_justify="left")
        for column in ("arm", "runs", "converted", "rate"):
            ab.add_column(column, justify="right" if column != "arm" else "left")
        for variant, runs in sorted(tested.variant_runs.items()):
            won = tested.variant_conversions[variant]
            ab.add_row(variant, f"{runs:,}", f"{won:,}", f"{won / runs:.1%}" if runs else "–")
        yield ab


def _delivery_table(result: DemoResult) -> Table:
    table = Table(title="Delivered, per channel", title_justify="left")
    for column in ("channel", "sends", "delivered", "failed", "arrived", "where"):
        table.add_column(column, justify="left" if column in ("channel", "where") else "right")
    decided: Counter[str] = Counter()
    for summary in result.summaries.values():
        decided.update(summary.sends)
    sinks, home = result.sinks, result.home
    arrived = {
        "email": (sinks.received["email"], f"SMTP server → {home / MAILBOX}"),
        "sms": (result.files["sms"], f"SMS provider → {home / FILES / 'sms.jsonl'}"),
        "push": (result.files["push"], f"push provider → {home / FILES / 'push.jsonl'}"),
        "offline": (
            result.files["offline"],
            f"call-centre tasks → {home / FILES / 'default' / 'offline.jsonl'}",
        ),
        "inbox": (result.inbox_exported, f"in-app inbox → {home / FILES / 'inbox.jsonl'}"),
    }
    for channel in (*CHANNELS, *sorted(set(decided) - set(CHANNELS))):
        count, where = arrived.get(channel, (0, ""))
        table.add_row(
            channel,
            f"{decided[channel]:,}",
            f"{result.delivered[channel]:,}",
            f"{result.failed[channel]:,}",
            f"{count:,}",
            where,
        )
    return table


def print_summary(result: DemoResult, console: Console) -> None:
    """Per journey entered/converted/exited, per-node counts, the A/B outcome, messages, suppressions,
    deliveries per channel, and where to look next."""
    console.print(_journey_table(result))
    console.print(_node_table(result))
    for table in _ab_tables(result):
        console.print(table)
    weeks = result.days / 7
    customers = max(result.customers, 1)
    console.print(
        f"Messages: {result.sends:,} to {result.customers:,} customers — "
        f"{result.sends / customers:.2f} per customer, "
        f"{result.sends / customers / weeks:.2f} per customer per week; "
        f"most to one customer: {max(result.sends_per_customer, default=0)}"
    )
    dropped = ", ".join(f"{k} {v:,}" for k, v in result.dropped.most_common()) or "none"
    deferred = ", ".join(f"{k} {v:,}" for k, v in result.deferred.most_common()) or "none"
    console.print(f"Sends held back by the gate: dropped — {dropped}; deferred — {deferred}")
    console.print(_delivery_table(result))
    sinks = result.sinks
    console.print(
        f"Exactly once: the SMTP server got {sinks.received['email']:,} messages with "
        f"{sinks.distinct['email']:,} distinct Message-IDs; the provider got "
        f"{sinks.received['sms'] + sinks.received['push']:,} requests with "
        f"{sinks.distinct['sms'] + sinks.distinct['push']:,} distinct Idempotency-Keys; "
        f"relay resends in doubt: {result.relay.resent_in_doubt}; still in the outbox: {result.pending}"
    )
    console.print(
        f"Events: {result.events_posted:,} accepted over HTTP and {result.runtime_inputs:,} segment and "
        f"schedule inputs; {result.events_stored:,} in the log with the ones rumbo wrote itself "
        f"(emitted, message_sent); {result.unprocessed:,} unprocessed; {result.dead_letters:,} dead letters"
    )
    archive = ", ".join(f"{kind} {rows:,}" for kind, rows in result.archive_rows.items())
    console.print(f"Archive: {archive}")
    t = result.timings
    console.print(
        f"Time: {t.get('total', 0):.0f} s — generating {t.get('generate', 0):.0f} s, "
        f"{result.days} days on accelerated time {t.get('run', 0):.0f} s, "
        f"the last deliveries {t.get('deliver', 0):.0f} s, "
        f"the archive's last round {t.get('archive', 0):.0f} s, "
        f"the summary {t.get('summary', 0):.0f} s; "
        "processor time: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in result.cpu.items())
    )
    _where_next(result, console)


def _where_next(result: DemoResult, console: Console) -> None:
    home = result.home
    archive = result.archive_dir
    env = f"RUMBO_HOME={home}"
    console.print("\n[bold]Where to look next[/]")
    console.print(
        f"  {home}: rumbo.db (the store), delivery.yaml (the relay's settings), mail/, files/, archive/"
    )
    console.print(
        f"  {home / MAILBOX}: every email as the SMTP server received it (any mail client opens it)"
    )
    console.print(f"  {home / FILES}: sms.jsonl, push.jsonl, inbox.jsonl, default/offline.jsonl")
    if result.example_customer:
        console.print(f"  {env} rumbo profile show {result.example_customer}")
    console.print(
        f"  {env} rumbo serve --journeys {result.journeys_dir}   # the API over the demo's profiles"
    )
    if result.keys is not None:
        console.print(f"      write key {result.keys.write_key}, admin key {result.keys.admin_key}")
    console.print(f"  rumbo analyze nodes --archive {archive}")
    console.print(f"  rumbo analyze experiment --archive {archive}")
    console.print(f"  rumbo analyze attribution --archive {archive} --model markov")
    console.print(f"  rumbo analyze clv --archive {archive}")
    console.print(f"  rumbo journey graph {result.journeys_dir / 'cart-recovery.yaml'}")
    console.print("  docs/journeys.md — write your own journey; docs/engine.md — how the engine decides")
