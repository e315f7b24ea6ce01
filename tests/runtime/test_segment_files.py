"""Segments as code: files `rumbo serve --segments` makes live in every workspace, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from rumbo.cli.main import main
from rumbo.runtime.segment_files import SegmentFilesInvalid, load_segment_files
from rumbo.runtime.setup import WorkspaceSetups
from rumbo.runtime.worker import Worker
from rumbo.store.catalog import SegmentDefinition
from tests.runtime.conftest import CLI, DAY, WORKSPACE, Runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_segments_load() -> None:
    segments = {s.name: s for s in load_segment_files([EXAMPLES / "segments.yaml"])}
    assert set(segments) == {"vip", "lapsing"}
    assert segments["lapsing"].refresh == DAY and segments["vip"].refresh is None


def test_every_problem_of_every_file_is_reported_with_its_line(tmp_path: Path) -> None:
    first = tmp_path / "a.yaml"
    first.write_text(
        "segments:\n"
        "  vip:\n"
        "    rule: \"count('order_completed', within='90d') >=\"\n"  # line 3: the rule does not parse
        "    refersh: 1d\n"  # line 4: a typo
        "  '9 lives':\n"  # line 5: not a name
        "    rule: 'true'\n"
        "  lapsing:\n"
        "    rule: \"count('order_completed', within='30d') == 0\"\n"
        "    refresh: sometimes\n"  # line 9
    )
    second = tmp_path / "b.json"
    second.write_text('{"segments": {"lapsing": {"rule": "true"}}}')  # defined twice
    third = tmp_path / "c.yaml"
    third.write_text("vip: {rule: 'true'}\n")  # not under segments:
    with pytest.raises(SegmentFilesInvalid) as caught:
        load_segment_files([first, second, third])
    problems = {(p.file and Path(p.file).name, p.line, p.path) for p in caught.value.problems}
    assert problems == {
        ("a.yaml", 3, "$.segments.vip.rule"),
        ("a.yaml", 4, "$.segments.vip.refersh"),
        ("a.yaml", 5, "$.segments.9 lives"),
        ("a.yaml", 9, "$.segments.lapsing.refresh"),
        ("b.json", 1, "$.segments.lapsing"),
        ("c.yaml", 1, "$"),
    }
    text = str(caught.value)
    assert "6 problems" in text and "defined twice" in text and "unknown field 'refersh'" in text


def test_file_segments_are_judged_and_the_workspaces_own_definition_wins(runtime: Runtime) -> None:
    files = load_segment_files([EXAMPLES / "segments.yaml"])
    runtime.setups = WorkspaceSetups(lambda: runtime.store, (), files)
    runtime.worker = Worker(runtime.store, WORKSPACE, lambda: runtime.setups.setup(WORKSPACE), walk_batch=3)
    runtime.identify("ana", loyalty_tier="gold")
    for _ in range(3):
        runtime.track("ana", "order_completed", revenue=30)
    runtime.work()
    assert runtime.segments_in_state("ana") == {"vip"}
    assert set(runtime.members("vip")) == {"ana"}
    # A workspace that defines vip itself over the API gets its own rule, not the file's.
    runtime.catalog.put_segment(
        WORKSPACE, SegmentDefinition("vip", "profile.traits.loyalty_tier == 'platinum'", None, ""), actor=CLI,
        at=runtime.now,
    )  # fmt: skip
    rules = {r.name: r.source for r in runtime.setups.setup(WORKSPACE).segments.rules}
    assert rules["vip"] == "profile.traits.loyalty_tier == 'platinum'" and "lapsing" in rules
    runtime.work()
    assert runtime.segments_in_state("ana") == set()  # judged again against the workspace's rule


def test_serve_refuses_bad_files_with_the_problems_not_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "segments.yaml"
    bad.write_text("segments:\n  vip: {rule: 'count(('}\n")
    result = CliRunner().invoke(main, ["serve", "--segments", str(bad)], env={"RUMBO_HOME": str(tmp_path)})
    assert result.exit_code == 1
    assert "segments.yaml:2" in result.output and "$.segments.vip.rule" in result.output
    assert "Traceback" not in result.output
