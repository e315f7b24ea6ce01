"""The behaviour model: saved and loaded unchanged, refused with a clear error when it is not a model, and
checked on held-out history by the fit report."""

from __future__ import annotations

from pathlib import Path

import pytest

from rumbo.simulate.errors import SimulationError
from rumbo.simulate.fitreport import fit_report
from rumbo.simulate.history import History
from rumbo.simulate.learn import fit_model
from rumbo.simulate.model import BehaviourModel, Dwell
from rumbo.simulate.simulator import Settings, generate_history
from tests.simulate.known import JOURNEY, journey, known_model


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    tmp = tmp_path_factory.mktemp("model")
    return generate_history(
        known_model(), [journey(tmp, JOURNEY, "r")], Settings(customers=1500, days=56, seed=8)
    )


def test_a_saved_model_loads_back_the_same_and_draws_the_same(history: History, tmp_path: Path) -> None:
    model = fit_model(history, conversion="order")
    loaded = BehaviourModel.load(model.save(tmp_path / "model.json"))
    assert loaded.to_dict() == model.to_dict()
    first, again = model.draw(3), loaded.draw(3)
    assert first.shares == again.shares
    assert first.responses == again.responses


def test_files_that_are_not_models_are_refused_with_what_to_do(tmp_path: Path) -> None:
    for text, expected in (
        ("not json", "not a JSON model"),
        ('{"format": 9}', "not a rumbo behaviour model"),
    ):
        path = tmp_path / "bad.json"
        path.write_text(text)
        with pytest.raises(SimulationError, match=expected) as raised:
            BehaviourModel.load(path)
        assert "rumbo simulate fit" in str(raised.value)
    with pytest.raises(SimulationError, match="no events to learn from"):
        fit_model(History(source="empty.jsonl"))


def test_dwell_quantiles_are_sampled_back(history: History) -> None:
    dwell = Dwell.of([float(x) for x in range(1, 1001)])
    assert dwell.sample(0.0) == pytest.approx(1.0)
    assert dwell.sample(0.5) == pytest.approx(500.5, rel=0.01)
    assert dwell.sample(0.999999) == pytest.approx(1000.0, rel=0.01)


def test_the_fit_report_finds_a_stationary_history_well_predicted(history: History, tmp_path: Path) -> None:
    report = fit_report(history, conversion="order", runs=4, journeys=[journey(tmp_path, JOURNEY, "r")])
    assert len(report.weeks) >= 2
    assert report.weekly_error < 0.15, report
    assert report.mix_distance < 0.05, report
    assert report.verdict.startswith("good"), report
    assert {m.event for m in report.mix} >= {"visit", "cart", "order"}
    # Without the journey that sent the reminders, their conversions are missing from the prediction.
    alone = fit_report(history, conversion="order", runs=2)
    assert alone.weeks[0].predicted.mean < report.weeks[0].predicted.mean
    assert any("no journeys were given" in note for note in alone.notes)
    with pytest.raises(SimulationError, match="between 0 and 1"):
        fit_report(history, held_out=1.5)
