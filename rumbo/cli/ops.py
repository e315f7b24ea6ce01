"""Operating commands on the store: `rumbo db upgrade`, `rumbo profile show`, `rumbo deadletters`."""

from __future__ import annotations

import datetime as dt

import click
import orjson
from rich.console import Console
from rich.table import Table

from rumbo.ingest import TrackingPlan, replay
from rumbo.runtime.intake import append_accepted
from rumbo.runtime.profile import find_customer, profile_view
from rumbo.store import open_store
from rumbo.store.profiles import SqlDeadLetters
from rumbo.store.sql import SqlStore


def _store(upgrade: bool = False) -> SqlStore:
    store = open_store()
    assert isinstance(store, SqlStore)
    if upgrade:
        store.upgrade()
    return store


def _when(at: float | None) -> str:
    return "" if at is None else dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@click.group()
def db() -> None:
    """The database: SQLite in RUMBO_HOME (./rumbo-data), or PostgreSQL at RUMBO_DATABASE_URL."""


@db.command()
def upgrade() -> None:
    """Apply the schema migrations the database has not had yet (safe to repeat)."""
    store = _store()
    before = store.schema_version()
    after = store.upgrade()
    click.echo(f"schema version {after}" + ("" if after == before else f" (was {before})"))


@click.group()
def profile() -> None:
    """Customer profiles."""


@profile.command("show")
@click.argument("who")
@click.option("--workspace", default="default", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the whole view as JSON.")
@click.option("--limit", default=20, show_default=True, help="Timeline entries and messages to show.")
def show(who: str, workspace: str, as_json: bool, limit: int) -> None:
    """The 360 view of a customer: WHO is a customer id, a user id, an anonymous id or kind:value
    (email:ana@example.com)."""
    store = _store(upgrade=True)
    customer = find_customer(store, workspace, who)
    if customer is None:
        raise click.ClickException(f"no customer {who!r} in workspace {workspace!r}; try email:<address>")
    view = profile_view(store, workspace, customer, limit=limit)
    if as_json:
        click.echo(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())
        return
    console = Console()
    console.print(f"[bold]customer {customer}[/] in {workspace}")
    console.print("identities: " + ", ".join(f"{i['kind']}:{i['value']}" for i in view["identities"]))
    console.print(f"traits: {view['traits']}")
    console.print(f"consent: {view['consent']}  tags: {view['tags']}  segments: {view['segments']}")
    runs = Table("journey", "version", "node", "entered", "waiting until", "variant", title="runs")
    for run in view["runs"]:
        runs.add_row(
            run["journey"],
            str(run["version"]),
            run["node"],
            _when(run["entered_at"]),
            _when(run["waiting_until"]),
            run["variant"] or "",
        )
    console.print(runs)
    timeline = Table("at", "type", "event", "channel", title="timeline (latest first)")
    for item in view["timeline"]:
        timeline.add_row(_when(item["at"]), item["type"] or "", item["event"] or "", item["channel"] or "")
    console.print(timeline)
    messages = Table("at", "journey", "node", "channel", "template", "status", title="messages")
    for m in view["messages"]:
        messages.add_row(_when(m["at"]), m["journey"], m["node"], m["channel"], m["template"], m["status"])
    console.print(messages)
    if view["suppressed"]:
        suppressed = Table("at", "journey", "node", "channel", "reason", title="suppressed")
        for s in view["suppressed"]:
            suppressed.add_row(
                str(s.get("at", "")),
                s.get("journey", ""),
                s.get("node", ""),
                s.get("channel", ""),
                s.get("reason", ""),
            )
        console.print(suppressed)


@click.group(invoke_without_command=True)
@click.option("--workspace", default="default", show_default=True)
@click.option("--rule", default=None, help="Only the letters of one tracking-plan rule (or `rejected`).")
@click.pass_context
def deadletters(ctx: click.Context, workspace: str, rule: str | None) -> None:
    """Events the tracking plan blocked and messages rejected as invalid, with why; `replay` after a fix."""
    ctx.obj = (workspace, rule)
    if ctx.invoked_subcommand is not None:
        return
    store = _store(upgrade=True)
    letters = SqlDeadLetters(store).letters(workspace, rule)
    if not letters:
        click.echo(f"no dead letters in workspace {workspace!r}")
        return
    table = Table("received", "rule", "messageId", "reasons", title=f"{len(letters)} dead letters")
    for letter in letters:
        reasons = "; ".join(str(reason) for reason in letter.reasons)
        table.add_row(_when(letter.at), letter.rule, letter.id, reasons)
    Console().print(table)


@deadletters.command("replay")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def replay_letters(obj: tuple[str, str | None], plan_file: str) -> None:
    """Judge the dead letters again under the tracking plan in PLAN_FILE (YAML or JSON); those it now lets
    through go into the event log, the others stay with their new reasons."""
    import yaml

    workspace, rule = obj
    with open(plan_file, encoding="utf-8") as handle:
        plan = TrackingPlan.from_document(yaml.safe_load(handle), source=plan_file)
    store = _store(upgrade=True)
    letters = SqlDeadLetters(store)
    # Messages rejected as unreadable are not the plan's to judge: they stay until resent.
    rules = [rule] if rule is not None else [r for r in letters.counts(workspace) if r != "rejected"]
    released = kept = 0
    for one in rules:
        result = replay(letters, workspace, plan, one)
        if result.released:
            at = max(float(a.record["received_at"]) for a in result.released)
            append_accepted(store, workspace, result.released, received_at=at)
        released, kept = released + len(result.released), kept + len(result.kept)
    click.echo(f"released {released} into the event log; {kept} still blocked")
