"""The 360 view's timeline shows what the customer did, not the runtime's own notes in the log."""

from __future__ import annotations

from rumbo.runtime.profile import profile_view
from tests.runtime.conftest import HOUR, WORKSPACE, Runtime


def test_the_timeline_leaves_out_runtime_notes_and_still_fills_its_limit(runtime: Runtime) -> None:
    runtime.segment("buyers", "count('bought', within='30d') > 0")
    for n in range(60):
        runtime.track("u1", "bought", n=n)  # each one has the worker judge segments again
        runtime.send("u1", {"type": "rumbo:segments", "event": None})  # as a segment walk writes them
        runtime.now += HOUR
    runtime.work()
    view = profile_view(runtime.store, WORKSPACE, "u1", limit=55)
    assert [e["properties"]["n"] for e in view["timeline"]] == list(range(59, 4, -1))  # newest first
    assert {e["type"] for e in view["timeline"]} == {"track"}
    assert view["segments"] == ["buyers"]
