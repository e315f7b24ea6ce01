"""`rumbo journey …`: the journey document — schema, validate, replay, graph."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from rumbo.durations import parse_duration
from rumbo.engine.commands import Send
from rumbo.engine.step import Engine
from rumbo.errors import DurationInvalid, JourneyInvalid
from rumbo.journey.catalog import Catalog, load_catalog
from rumbo.journey.load import expand, load_journeys, validate_files
from rumbo.journey.render import node_type, to_dot, to_mermaid
from rumbo.journey.schema import JOURNEY_SCHEMA
from rumbo.records import Suppression
from rumbo.replay.summary import summarize
from rumbo.replay.virtual import VirtualRuntime, event_time


@click.group()
def journey() -> None:
    """Journeys as code: the schema, validation, replay on recorded events, and drawings."""


def _catalog(path: str | None) -> Catalog | None:
    return load_catalog(path) if path else None


@journey.command()
def schema() -> None:
    """Print the journey document's JSON Schema."""
    click.echo(json.dumps(JOURNEY_SCHEMA, indent=2))


@journey.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--catalog",
    type=click.Path(exists=True, dir_okay=False),
    help="Workspace catalogue of events, traits and segments (YAML).",
)
def validate(files: tuple[str, ...], catalog: str | None) -> None:
    """Check journey files (or directories of them) and report every problem at once."""
    paths = expand(files)
    problems = validate_files(paths, _catalog(catalog))
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        click.echo(
            f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {len(paths)} file(s)", err=True
        )
        sys.exit(1)
    click.echo(f"{len(paths)} journey file(s) valid")


def _read_events(path: Path) -> list[dict[str, Any]]:
    events = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise click.ClickException(
                f"{path}:{number}: not a JSON object ({exc}); one event per line"
            ) from exc
    return events


@journey.command()
@click.argument("journeys", type=click.Path(exists=True))
@click.argument("events", type=click.Path(exists=True, dir_okay=False))
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False), help="Workspace catalogue (YAML).")
@click.option(
    "--then",
    "then",
    default="30d",
    show_default=True,
    help="Keep virtual time running this long after the last event, so waits and goals play out.",
)
@click.option("--commands/--no-commands", default=False, help="Print every command as JSON lines.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def replay(journeys: str, events: str, catalog: str | None, then: str, commands: bool, fmt: str) -> None:
    """Run the engine on virtual time over an event file (JSONL of Segment messages).

    JOURNEYS is a journey file or a directory of them; they run together, as they would live.
    """
    try:
        compiled = load_journeys([journeys], _catalog(catalog))
        tail = parse_duration(then)
    except (JourneyInvalid, DurationInvalid) as exc:
        raise click.ClickException(str(exc)) from exc
    messages = _read_events(Path(events))
    runtime = VirtualRuntime(Engine(compiled))
    try:
        last = max((event_time(m) for m in messages), default=0.0)
        runtime.replay(messages, until=last + tail)
    except ValueError as exc:
        raise click.ClickException(f"{events}: {exc}") from exc
    summaries = summarize(runtime.commands, runtime.customers)
    if commands:
        for command in runtime.commands:
            click.echo(orjson.dumps({"command": type(command).__name__, **_plain(command)}).decode())
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "inputs": runtime.inputs,
                    "refused": [r.reason for r in runtime.refusals],
                    "journeys": {k: v.to_dict() for k, v in summaries.items()},
                },
                indent=2,
            )
        )
        return
    console = Console()
    for journey_def in compiled:
        summary = summaries.get(journey_def.id)
        table = Table(title=f"{journey_def.id}", title_justify="left")
        for column in ("node", "type", "entered", "waiting now"):
            table.add_column(column, justify="right" if column in ("entered", "waiting now") else "left")
        for node_id, node in journey_def.nodes.items():
            table.add_row(
                node_id,
                node_type(node),
                str(summary.node_entered[node_id] if summary else 0),
                str(summary.node_waiting[node_id] if summary else 0),
            )
        console.print(table)
        if summary:
            exited = ", ".join(f"{k} {v}" for k, v in sorted(summary.exited.items())) or "none"
            console.print(
                f"  entered {summary.entered}, converted {summary.converted}, exited: {exited}, "
                f"waiting {summary.waiting}"
            )
            if summary.sends:
                console.print("  sends: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.sends.items())))
            if summary.suppressed:
                console.print(
                    "  suppressed: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.suppressed.items()))
                )
    suppressions = sum(1 for c in runtime.commands if isinstance(c, Suppression))
    console.print(
        f"{len(messages)} events, {runtime.inputs} inputs, "
        f"{sum(1 for c in runtime.commands if isinstance(c, Send))} sends, {suppressions} suppressions, "
        f"{len(runtime.refusals)} refused"
    )
    for refusal in runtime.refusals[:10]:
        console.print(f"  refused for {refusal.customer}: {refusal.reason}")


def _plain(command: object) -> dict[str, Any]:
    return {s: getattr(command, s) for s in getattr(command, "__slots__", ())}


@journey.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid", show_default=True)
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False), help="Workspace catalogue (YAML).")
def graph(file: str, fmt: str, catalog: str | None) -> None:
    """Draw a journey as a Mermaid flowchart or Graphviz DOT."""
    try:
        compiled = load_journeys([file], _catalog(catalog))[0]
    except JourneyInvalid as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(to_mermaid(compiled) if fmt == "mermaid" else to_dot(compiled), nl=False)


@journey.command(name="migration-plan")
@click.argument("current", type=click.Path(exists=True, dir_okay=False))
@click.argument("draft", type=click.Path(exists=True, dir_okay=False))
@click.argument("events", type=click.Path(exists=True, dir_okay=False))
@click.option("--map", "mapping", multiple=True, metavar="OLD=NEW", help="Move runs at node OLD to node NEW.")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False), help="Workspace catalogue (YAML).")
def migration_plan(
    current: str, draft: str, events: str, mapping: tuple[str, ...], catalog: str | None
) -> None:
    """Dry run of publishing DRAFT over CURRENT: replay EVENTS on CURRENT, then count where the runs still
    waiting would move (same node id unless --map says otherwise) and which would stop."""
    nodes: dict[str, str] = {}
    for item in mapping:
        old, sep, new = item.partition("=")
        if not sep or not old or not new:
            raise click.BadParameter(f"{item!r} is not OLD=NEW", param_hint="--map")
        nodes[old] = new
    try:
        live = load_journeys([current], _catalog(catalog))[0]
        proposed = load_journeys([draft], _catalog(catalog))[0]
    except JourneyInvalid as exc:
        raise click.ClickException(str(exc)) from exc
    if proposed.id != live.id:
        raise click.ClickException(
            f"the draft is journey {proposed.id!r}, not {live.id!r}: a new version keeps the id"
        )
    unknown = sorted(set(nodes) - set(live.nodes))
    if unknown:
        raise click.BadParameter(f"no node {', '.join(unknown)} in {current}", param_hint="--map")
    messages = _read_events(Path(events))
    runtime = VirtualRuntime(Engine([live]))
    try:
        runtime.replay(messages)
    except ValueError as exc:
        raise click.ClickException(f"{events}: {exc}") from exc
    draft_version = replace(proposed, version=live.version + 1)
    plan = Engine([live, draft_version]).migration_plan(
        runtime.customers.values(), live.id, draft_version.version, nodes
    )
    table = Table(title=f"{live.id}: runs waiting after {len(messages):,} events", title_justify="left")
    for column in ("from node", "to node", "runs"):
        table.add_column(column, justify="right" if column == "runs" else "left")
    for (_version, frm, to), count in sorted(plan.items()):
        table.add_row(frm, to, f"{count:,}")
    Console().print(table)
    moved = sum(n for (_v, _f, to), n in plan.items() if to != "stopped")
    click.echo(f"{moved:,} would move, {sum(plan.values()) - moved:,} would stop")
