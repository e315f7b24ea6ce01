"""`rumbo journey validate` finds every problem at once, each with file, line, JSON path and what to do."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from rumbo.errors import JourneyInvalid, Problem
from rumbo.journey.build import check_document
from rumbo.journey.catalog import Catalog, load_catalog
from rumbo.journey.document import parse_document
from rumbo.journey.load import load_journey, validate_files
from rumbo.journey.schema import JOURNEY_SCHEMA

ROOT = Path(__file__).resolve().parents[2]
GOOD = """
journey: j
events:
  go: {properties: {value: number}}
  bought: {}
entry: {event: go, where: "event.properties.value > 20"}
goal: {event: bought, within: 7d}
nodes:
  first: {wait: {for: 1h}, next: done}
  done: {exit: {}}
"""


def problems(text: str, catalog: Catalog | None = None) -> list[Problem]:
    return check_document(parse_document(textwrap.dedent(text), "j.yaml"), catalog)


def test_a_good_journey_has_no_problems() -> None:
    assert problems(GOOD) == []


@pytest.mark.parametrize(
    ("change", "path", "line", "message", "hint"),
    [
        (
            ("  first: {wait: {for: 1h}, next: done}", "  first: {wiat: {for: 1h}, next: done}"),
            "$.nodes.first.wiat",
            9,
            "unknown node type 'wiat'",
            "did you mean 'wait'?",
        ),
        (
            ("  first: {wait: {for: 1h}, next: done}", "  first: {wait: {for: 1h}, next: done, color: red}"),
            "$.nodes.first.color",
            9,
            "unknown field 'color' in wait node",
            "allowed fields",
        ),
        (
            ("next: done}", "next: dnoe}"),
            "$.nodes.first.next",
            9,
            "there is no node 'dnoe'",
            "did you mean 'done'?",
        ),
        (("within: 7d", "within: 7 days"), "$.goal.within", 7, "'7 days' is not a duration", "'90s'"),
        (
            ("goal: {event: bought", "goal: {event: bougth"),
            "$.goal.event",
            7,
            "event 'bougth' is not declared",
            "did you mean 'bought'?",
        ),
        (("value > 20", "value > 'twenty'"), "$.entry.where", 6, "", ""),
        (("value > 20", "valeu +"), "$.entry.where", 6, "", ""),
    ],
)
def test_each_kind_of_mistake_is_reported_where_it_is(
    change: tuple[str, str], path: str, line: int, message: str, hint: str
) -> None:
    found = problems(GOOD.replace(*change))
    problem = next(p for p in found if p.path == path)
    assert (problem.file, problem.path, problem.line) == ("j.yaml", path, line)
    assert message in problem.message
    assert hint in (problem.hint or "")
    assert problem.hint  # every problem says what to do


def test_every_problem_is_reported_at_once() -> None:
    text = """
    journey: bad
    events: {go: {}}
    entry: {event: og}
    exit_on: [{event: gone}]
    on: [{event: go, goto: nowhere}]
    nodes:
      a: {wait: {for: soon}, next: b}
      b:
        split: {variants: {A: 60, B: 30}}
        next: {A: c, B: c}
      c: {update: {set: {x: 1}}, next: d}
      d: {update: {set: {x: 2}}, next: c}
      lonely: {exit: {}}
    """
    found = problems(text)
    messages = [p.message for p in found]
    assert [p.path for p in found] == sorted(
        [p.path for p in found], key=lambda path: [p.path for p in found].index(path)
    )
    assert any("event 'og' is not declared" in m for m in messages)
    assert any("event 'gone' is not declared" in m for m in messages)
    assert any("there is no node 'nowhere'" in m for m in messages)
    assert any("'soon' is not a duration" in m for m in messages)
    assert any("add up to 90, not 100" in m for m in messages)
    assert any("node 'lonely' can never be reached" in m for m in messages)
    assert any("the cycle c → d → c never waits" in m for m in messages)
    assert [p.line for p in found] == sorted(p.line or 0 for p in found)


def test_a_cycle_through_a_wait_is_allowed() -> None:
    text = GOOD.replace("done: {exit: {}}", "done: {send: {channel: email, template: t}, next: first}")
    assert problems(text) == []


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('entry: {schedule: {cron: "61 * * * *"}}', "is not a cron expression"),
        ('entry: {schedule: {cron: "0 9 * * MON", timezone: Europe/Madird}}', "is not a time zone"),
        ("entry: {event: go, segment: vip}", "exactly one of event, segment, schedule, api"),
        ("entry: {segment: vip, where: 'true'}", "`where` applies only to event entries"),
    ],
)
def test_entry_rules_are_checked(snippet: str, expected: str) -> None:
    text = GOOD.replace('entry: {event: go, where: "event.properties.value > 20"}', snippet)
    assert any(expected in p.message for p in problems(text)), problems(text)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ("{wait: {for: 1h, window: {from: '09:00', to: '10:00'}}, next: done}", "exactly one of for, window"),
        ("{wait: {window: {from: '25:00', to: '10:00'}}, next: done}", "'25:00' is not a local time"),
        ("{wait: {for: 1h, offset: 1d}, next: done}", "`offset` applies only to `until_trait`"),
        ("{wait_for: {event: go, timeout: 1d}, next: done}", "`next` must map happened, timed_out"),
        ("{wait_for: {event: go, timeout: 1d}, next: {happened: done}}", "no 'timed_out' outcome"),
        ("{send: {channel: fax, template: t}, next: done}", "is not one of"),
        ("{send: {channel: sms, template: t, fallback: sms}, next: done}", "fallback is the same channel"),
        ("{decide: {offers: [ghost]}, next: done}", "offer 'ghost' is not in `offers:`"),
        ("{emit: {event: x, start_journey: y}, next: done}", "exactly one of `event` or `start_journey`"),
        ("{split: {variants: {A: 50, holdout: 50}}, next: {A: done, holdout: done}}", "reserved"),
        ("{branch: {cases: [{when: 'count(3) > 1', next: done}], else: done}}", "in quotes"),
        ("{update: {set: {x: '=nonsense.y'}}, next: done}", ""),
        ("{exit: {}, next: done}", "an exit node has no `next`"),
        ("{wait: {for: 1h}}", "the node has no `next`"),
    ],
)
def test_node_rules_are_checked(node: str, expected: str) -> None:
    found = problems(GOOD.replace("{wait: {for: 1h}, next: done}", node))
    assert found, node
    assert any(expected in p.message for p in found), found


def test_a_catalogue_declares_events_and_segments_for_every_journey(tmp_path: Path) -> None:
    catalog_file = tmp_path / "catalog.yaml"
    catalog_file.write_text("events:\n  order_completed: {properties: {revenue: number}}\nsegments: [vip]\n")
    catalog = load_catalog(catalog_file)
    text = GOOD.replace(
        "goal: {event: bought, within: 7d}",
        "goal: {event: order_completed, within: 7d, where: \"event.properties.revenue > 'x'\"}",
    )
    found = problems(text, catalog)
    assert len(found) == 1 and found[0].path == "$.goal.where"  # typed from the catalogue
    segment = problems(
        GOOD.replace('entry: {event: go, where: "event.properties.value > 20"}', "entry: {segment: vpi}"),
        catalog,
    )
    assert any(
        "segment 'vpi' is not known" in p.message and "did you mean 'vip'" in (p.hint or "") for p in segment
    )


def test_json_documents_are_checked_with_line_numbers_too(tmp_path: Path) -> None:
    data = yaml.safe_load(GOOD)
    data["nodes"]["first"]["next"] = "nowhere"
    file = tmp_path / "j.json"
    file.write_text(json.dumps(data, indent=2))
    problem = next(p for p in validate_files([file]) if p.path == "$.nodes.first.next")
    assert problem.file == str(file) and problem.path == "$.nodes.first.next"
    assert problem.line == json.dumps(data, indent=2).splitlines().index('      "next": "nowhere"') + 1


def test_broken_yaml_is_reported_with_its_position(tmp_path: Path) -> None:
    file = tmp_path / "j.yaml"
    file.write_text("journey: j\nnodes: {a: [1, 2}\n")
    with pytest.raises(JourneyInvalid) as caught:
        load_journey(file)
    (problem,) = caught.value.problems
    assert problem.line == 2 and "not valid YAML or JSON" in problem.message


def test_a_control_character_is_reported_with_its_position(tmp_path: Path) -> None:
    file = tmp_path / "j.yaml"
    file.write_text("journey: j\nnodes: {a\x07: {exit: {}}}\n")
    with pytest.raises(JourneyInvalid) as caught:
        load_journey(file)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (2, 10) and "U+0007" in problem.message


def test_a_file_that_is_not_utf8_is_reported_not_raised(tmp_path: Path) -> None:
    file = tmp_path / "j.yaml"
    file.write_bytes(b"journey: caf\xe9\n")
    with pytest.raises(JourneyInvalid) as caught:
        load_journey(file)
    (problem,) = caught.value.problems
    assert problem.file == str(file) and "not UTF-8" in problem.message and "0xe9" in problem.message


def test_yaml_words_like_yes_and_no_stay_node_names() -> None:
    text = GOOD.replace(
        "first: {wait: {for: 1h}, next: done}", "first: {wait: {for: 1h}, next: yes}"
    ).replace("done: {exit: {}}", "yes: {exit: {}}")
    assert problems(text) == []


def test_the_published_schema_accepts_every_example_and_rejects_nonsense() -> None:
    validator = jsonschema.Draft202012Validator(JOURNEY_SCHEMA)
    for file in sorted((ROOT / "examples" / "journeys").glob("*.yaml")):
        assert list(validator.iter_errors(parse_document(file.read_text()).data)) == [], file
    assert list(validator.iter_errors({"journey": "x", "nodes": {}, "colour": 1}))
