"""The settings file, `rumbo relay`, offline task files, and docs that keep up with both."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import click
import orjson
import pytest
import yaml
from click.testing import CliRunner

from rumbo.cli.main import main
from rumbo.cli.relay import relay
from rumbo.delivery.errors import DeliveryConfigInvalid
from rumbo.delivery.settings import DeliverySettings, load_settings
from rumbo.store.sqlite import SqliteStore
from tests.delivery.orders import enqueue, make_send, profile, write_templates
from tests.peers import smtp_server

DOCS = Path(__file__).resolve().parents[2] / "docs" / "delivery.md"


def test_settings_read_secrets_from_the_environment_and_resolve_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "pw")
    file = tmp_path / "delivery.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "templates": "templates",
                "smtp": {
                    "host": "mail.example",
                    "port": 587,
                    "starttls": True,
                    "username": "u",
                    "password": "${SMTP_PASSWORD}",
                },
                "providers": {
                    "sms": {
                        "name": "smsco",
                        "url": "https://sms.example/send",
                        "body": "{}",
                        "success_status": [200, 202],
                    }
                },
                "limits": {"email": {"rate": 50, "burst": 100}},
                "retry": {"max_attempts": 4},
                "thresholds": {"bounce_rate": 0.02},
            }
        )
    )
    settings = load_settings(file)
    assert settings.templates == tmp_path / "templates"
    assert settings.smtp is not None and settings.smtp.password == "pw" and settings.smtp.starttls
    assert settings.providers["sms"].success_status == (200, 202)
    assert settings.limits["email"].burst == 100 and settings.retry.max_attempts == 4
    assert settings.thresholds.bounce_rate == 0.02


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ("smtp: {hots: x}", "$.smtp.hots: unknown setting"),
        ("smtpp: {}", "$.smtpp: unknown setting"),
        ("smtp: {password: '${NOT_SET_ANYWHERE}'}", "NOT_SET_ANYWHERE is not set"),
        ("providers: {fax: {name: f, url: u, body: b}}", "$.providers.fax: providers serve"),
        ("smtp: [1, 2]", "$.smtp: expected a mapping"),
        ("smtp: {", "not valid YAML"),
    ],
)
def test_a_bad_settings_file_names_the_file_and_field(tmp_path: Path, content: str, where: str) -> None:
    file = tmp_path / "delivery.yaml"
    file.write_text(content)
    with pytest.raises(DeliveryConfigInvalid) as caught:
        load_settings(file)
    assert str(file) in str(caught.value) and where in str(caught.value)


def test_rumbo_relay_once_delivers_email_and_writes_offline_task_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUMBO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RUMBO_DATABASE_URL", raising=False)
    store = SqliteStore.open(tmp_path / "home")
    store.upgrade()
    store.create_workspace("acme", at=0.0)
    enqueue(
        store,
        [
            (make_send(1), profile(1)),
            (make_send(2, channel="store"), profile(2)),
            (make_send(3, channel="direct_mail"), profile(3)),
        ],
    )
    write_templates(tmp_path / "templates")
    with smtp_server() as (port, mailbox):
        for file_format in ("jsonl", "csv"):
            (tmp_path / f"{file_format}.yaml").write_text(
                yaml.safe_dump(
                    {
                        "templates": "templates",
                        "smtp": {"port": port},
                        "offline_dir": f"tasks-{file_format}",
                        "offline_format": file_format,
                    }
                )
            )
        result = CliRunner().invoke(main, ["relay", "--settings", str(tmp_path / "jsonl.yaml"), "--once"])
        assert result.exit_code == 0, result.output
        assert "sent 3, retrying 0, failed 0" in result.output
    assert [str(m["To"]) for m in mailbox.received] == ["u1@example.com"]
    lines = (tmp_path / "tasks-jsonl" / "acme" / "store.jsonl").read_bytes().splitlines()
    assert [orjson.loads(line)["text"] for line in lines] == ["Call Ana2 about the cart"]
    assert (tmp_path / "tasks-jsonl" / "acme" / "direct_mail.jsonl").exists()
    store.close()


def test_offline_tasks_as_csv(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "r.db")
    store.upgrade()
    store.create_workspace("acme", at=0.0)
    enqueue(
        store,
        [
            (make_send(1, channel="call_centre"), profile(1)),
            (make_send(2, channel="call_centre"), profile(2)),
        ],
    )
    from rumbo.delivery.relay import Relay

    settings = DeliverySettings(
        templates=write_templates(tmp_path / "t"), offline_dir=tmp_path / "out", offline_format="csv"
    )
    relay_ = Relay(lambda: SqliteStore(tmp_path / "r.db"), settings, ["acme"])
    assert relay_.run_once(now=2000.0).sent == 2
    relay_.close()
    with (tmp_path / "out" / "acme" / "call_centre.csv").open() as f:
        rows = list(csv.DictReader(f))
    # Workers append in any order.
    assert sorted((r["customer"], r["text"]) for r in rows) == [
        ("u1", "Call Ana1 about the cart"),
        ("u2", "Call Ana2 about the cart"),
    ]
    store.close()


def test_a_bad_settings_file_fails_the_command_with_its_message(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("smtp: {hots: x}")
    result = CliRunner().invoke(main, ["relay", "--settings", str(tmp_path / "bad.yaml"), "--once"])
    assert result.exit_code == 1, result.output
    assert "$.smtp.hots: unknown setting" in result.output


def test_every_relay_option_and_setting_is_documented() -> None:
    text = DOCS.read_text()
    options = [o for p in relay.params if isinstance(p, click.Option) for o in p.opts if o.startswith("--")]
    assert [o for o in options if o not in text] == []
    names = [f.name for f in dataclasses.fields(DeliverySettings)]
    assert [n for n in names if f"`{n}`" not in text] == []
