"""The relay's settings: channels, templates, links, limits, retries, pause thresholds.

Read from a YAML file (`rumbo relay --settings delivery.yaml`); every field is described in
docs/delivery.md. Values of the form `${NAME}` are read from the environment, so secrets stay out of
the file. A problem names the file and the field.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from rumbo.delivery.channels.email import SmtpSettings
from rumbo.delivery.channels.provider import ProviderSettings
from rumbo.delivery.channels.webhook import WebhookSettings
from rumbo.delivery.errors import DeliveryConfigInvalid
from rumbo.delivery.limits import RetryPolicy
from rumbo.store.deliveries import Thresholds


@dataclass(frozen=True, slots=True)
class Limit:
    rate: float
    burst: float | None = None


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    templates: Path = Path("templates")
    smtp: SmtpSettings | None = None
    webhook: WebhookSettings | None = None
    providers: dict[str, ProviderSettings] = field(default_factory=dict)  # channel (sms, push) → provider
    offline_dir: Path | None = None
    offline_format: Literal["jsonl", "csv"] = "jsonl"
    base_url: str | None = None  # where the delivery router is served, for open/click/unsubscribe links
    secret: bytes = b""  # signs those links; the router must be given the same one
    message_id_domain: str = "rumbo.invalid"
    limits: dict[str, Limit] = field(default_factory=dict)  # "email", "sms", ... or "provider:<name>"
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    thresholds: Thresholds = field(default_factory=Thresholds)
    concurrency: int = 4
    batch: int = 200
    lease: float = 300.0
    pause_recheck: float = 300.0  # how long a send for a paused channel or template waits before a look again
    allow_private_targets: bool = False


_ENV = re.compile(r"\$\{(\w+)\}")


def _expand(value: Any, where: str, path: str) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise DeliveryConfigInvalid(where, path, f"environment variable {name} is not set")
            return os.environ[name]

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, where, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _build(cls: Any, data: Any, where: str, path: str, **extra: Any) -> Any:
    if not isinstance(data, dict):
        raise DeliveryConfigInvalid(where, path, f"expected a mapping, got {type(data).__name__}")
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise DeliveryConfigInvalid(
            where, f"{path}.{unknown[0]}", f"unknown setting; known: {', '.join(sorted(known))}"
        )
    values = {**data, **extra}
    for name in ("success_status", "success_values", "allowed_networks"):
        if name in values and isinstance(values[name], list):
            values[name] = tuple(values[name])
    try:
        return cls(**values)
    except TypeError as exc:
        raise DeliveryConfigInvalid(where, path, str(exc)) from exc


def load_settings(file: Path | str) -> DeliverySettings:
    """Read a settings file; raise DeliveryConfigInvalid naming the file and field on any problem."""
    file = Path(file)
    where = str(file)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise DeliveryConfigInvalid(where, "$", f"cannot read the file: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise DeliveryConfigInvalid(where, "$", f"not valid YAML: {exc}") from exc
    data = _expand(raw, where, "$")
    if not isinstance(data, dict):
        raise DeliveryConfigInvalid(where, "$", "expected a mapping of settings")
    return settings_from_dict(data, where=where, base=file.parent)


def settings_from_dict(
    data: dict[str, Any], *, where: str = "<settings>", base: Path = Path()
) -> DeliverySettings:
    known = set(DeliverySettings.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise DeliveryConfigInvalid(
                where, f"$.{key}", f"unknown setting; known: {', '.join(sorted(known))}"
            )
    values: dict[str, Any] = dict(data)
    allow = bool(data.get("allow_private_targets", False))
    if "templates" in data:
        values["templates"] = base / str(data["templates"])
    if data.get("offline_dir") is not None:
        values["offline_dir"] = base / str(data["offline_dir"])
    if "smtp" in data:
        values["smtp"] = _build(SmtpSettings, data["smtp"], where, "$.smtp")
    if "webhook" in data:
        hook = data["webhook"]
        values["webhook"] = _build(
            WebhookSettings,
            hook,
            where,
            "$.webhook",
            allow_private_targets=bool(hook.get("allow_private_targets", allow))
            if isinstance(hook, dict)
            else allow,
        )
    if "providers" in data:
        providers = data["providers"]
        if not isinstance(providers, dict):
            raise DeliveryConfigInvalid(where, "$.providers", "expected a mapping of channel → provider")
        values["providers"] = {}
        for channel, spec in providers.items():
            if channel not in ("sms", "push"):
                raise DeliveryConfigInvalid(
                    where, f"$.providers.{channel}", "providers serve the channels sms and push"
                )
            extra = (
                {"allow_private_targets": bool(spec.get("allow_private_targets", allow))}
                if isinstance(spec, dict)
                else {}
            )
            values["providers"][channel] = _build(
                ProviderSettings, spec, where, f"$.providers.{channel}", **extra
            )
    if "secret" in data:
        values["secret"] = str(data["secret"]).encode()
    if "limits" in data:
        limits = data["limits"]
        if not isinstance(limits, dict):
            raise DeliveryConfigInvalid(where, "$.limits", "expected a mapping of channel → {rate, burst}")
        values["limits"] = {k: _build(Limit, v, where, f"$.limits.{k}") for k, v in limits.items()}
    if "retry" in data:
        values["retry"] = _build(RetryPolicy, data["retry"], where, "$.retry")
    if "thresholds" in data:
        values["thresholds"] = _build(Thresholds, data["thresholds"], where, "$.thresholds")
    if values.get("offline_format", "jsonl") not in ("jsonl", "csv"):
        raise DeliveryConfigInvalid(where, "$.offline_format", "must be jsonl or csv")
    try:
        return DeliverySettings(**values)
    except TypeError as exc:
        raise DeliveryConfigInvalid(where, "$", str(exc)) from exc
