"""The outbox relay: takes due sends from the store's outbox and delivers them, once each.

Theory of operation — one round, per workspace:
1. Claim up to `batch` due entries with a lease (no other relay gets them until it runs out).
2. Decode and render each. A send that cannot be rendered (template error, no address) is dead-lettered
   with its error, alone: the others go on. A send for a paused channel or template is deferred.
3. Record an attempt for every send about to go out, in ONE durable transaction, BEFORE any provider is
   called (table `deliveries`, status 'sending', keyed by the idempotency key).
4. Hand the messages to a pool of worker threads (each with its own channel connections and store
   connection), honouring the token-bucket rate limits. Each provider acceptance is confirmed at once
   (status 'confirmed') with a commit that survives the relay being killed.
5. Close the round in ONE transaction: outbox entries sent / retried (full-jitter backoff) / dead-lettered,
   Delivery records, `message_sent` / `message_failed` events, counters.

After a crash, a claimed entry comes back when its lease runs out. If its attempt was confirmed it is
marked sent without being sent again; if it is still 'sending', the relay died between step 3 and the
provider's answer — it is in doubt, and is sent again with the same idempotency key (Message-ID for
email, Idempotency-Key header for webhooks and providers; inbox and offline rows are keyed by it), and
`resent_in_doubt` counts it. No send is ever lost; a copy can reach a receiver twice only if the relay
dies in the instant between a provider accepting it and the confirmation's commit, and that copy carries
the same key.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from rumbo.delivery.channels.base import Channel
from rumbo.delivery.channels.email import EmailChannel
from rumbo.delivery.channels.local import OFFLINE_LISTS, InboxChannel, OfflineChannel
from rumbo.delivery.channels.provider import ProviderChannel
from rumbo.delivery.channels.webhook import WebhookChannel, WebhookSettings
from rumbo.delivery.errors import DeliveryError, PermanentDelivery, RetryableDelivery, TemplateError
from rumbo.delivery.limits import TokenBucket
from rumbo.delivery.message import Message, SendOrder, decode_order, message_id
from rumbo.delivery.outcomes import delivery_record, outcome_event, pause_targets
from rumbo.delivery.settings import DeliverySettings
from rumbo.delivery.templates import DirectoryTemplates, Rendered, Renderer, TemplateSource, context_for
from rumbo.delivery.tokens import Links
from rumbo.engine.policy import ADDRESS_TRAITS
from rumbo.store.base import OutboxItem
from rumbo.store.deliveries import DeliveryStore, Finished, SendInfo
from rumbo.store.sql import SqlStore

_TAGS = re.compile(r"<[^>]+>")
_SLICE = 50  # sends per recorded slice of a batch
Verdict = Literal["ok", "retry", "permanent"]


@dataclass(slots=True)
class RoundStats:
    """What one round did: counts per outcome, and the errors of the sends that did not go."""

    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0
    resent_in_doubt: int = 0
    already_confirmed: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, other: RoundStats) -> None:
        for name in (
            "claimed",
            "sent",
            "retried",
            "failed",
            "deferred",
            "resent_in_doubt",
            "already_confirmed",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.update(other.errors)


@dataclass(frozen=True, slots=True)
class _Work:
    item: OutboxItem
    info: SendInfo
    message: Message


class _Worker:
    """What one worker thread owns: a store connection and one instance of each channel it used."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.store = DeliveryStore(relay.open_store())
        self.store.relax_durability()
        self.channels: dict[str, Channel] = {}

    def channel(self, name: str) -> Channel:
        if name not in self.channels:
            self.channels[name] = self.relay.make_channel(name, self.store)
        return self.channels[name]

    def close(self) -> None:
        for channel in self.channels.values():
            channel.close()
        self.store.store.close()


class Relay:
    """Delivers the outbox of some workspaces. Use `run_once` in tests and `run` in a process."""

    def __init__(
        self,
        open_store: Callable[[], SqlStore],
        settings: DeliverySettings,
        workspaces: Iterable[str],
        *,
        templates: TemplateSource | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.open_store = open_store
        self.settings = settings
        self.workspaces = list(workspaces)
        self.clock = clock
        self.rng = rng or random.Random()
        self.renderer = Renderer(templates or DirectoryTemplates(settings.templates))
        self.links = Links(settings.base_url, settings.secret) if settings.base_url else None
        self.store = DeliveryStore(open_store())
        self.buckets = {name: TokenBucket(limit.rate, limit.burst) for name, limit in settings.limits.items()}
        self._local = threading.local()
        self._workers: list[_Worker] = []
        self._workers_lock = threading.Lock()
        self._confirm_lock = threading.Lock()
        self._workers_wanted = max(1, settings.concurrency)
        self._pool = ThreadPoolExecutor(self._workers_wanted, thread_name_prefix="rumbo-relay")

    # --- channels -----------------------------------------------------------------------------------

    def make_channel(self, name: str, store: DeliveryStore) -> Channel:
        """A new instance of a channel (each worker thread has its own)."""
        s = self.settings
        if name == "email":
            if s.smtp is None:
                raise RetryableDelivery("email", "no `smtp` settings: add them to the delivery settings")
            return EmailChannel(s.smtp)
        if name == "webhook":
            if s.webhook is None:
                raise RetryableDelivery("webhook", "no `webhook` settings: add them to the delivery settings")
            hook = s.webhook
            if s.allow_private_targets and not hook.allow_private_targets:
                hook = WebhookSettings(hook.url, hook.secret, hook.timeout, True, hook.allowed_networks)
            return WebhookChannel(hook)
        if name in ("sms", "push"):
            if name not in s.providers:
                raise RetryableDelivery(
                    name, f"no provider for {name}: add `providers.{name}` to the settings"
                )
            return ProviderChannel(name, s.providers[name])
        if name == "inbox":
            return InboxChannel(store, clock=self.clock)
        if name in OFFLINE_LISTS:
            return OfflineChannel(name, store, s.offline_dir, file_format=s.offline_format, clock=self.clock)
        raise PermanentDelivery(name, f"rumbo has no channel {name!r}")

    def _provider(self, channel: str) -> str | None:
        s = self.settings
        if channel in s.providers:
            return f"provider:{s.providers[channel].name}"
        if channel == "email" and s.smtp is not None:
            return f"provider:smtp:{s.smtp.host}"
        return None

    def _worker(self) -> _Worker:
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is None:
            worker = _Worker(self)
            self._local.worker = worker
            with self._workers_lock:
                self._workers.append(worker)
        return worker

    # --- rendering ----------------------------------------------------------------------------------

    def render(self, order: SendOrder) -> Message:
        """The message a send order becomes; raises TemplateError or PermanentDelivery for this send only."""
        s = order.send
        kind = "offline" if s.channel in OFFLINE_LISTS else s.channel
        context = context_for(order, self.links)
        rendered = self.renderer.render(s.template, kind, context, locale=order.profile.traits.get("locale"))
        to: str | None = None
        trait = ADDRESS_TRAITS.get(s.channel)
        if trait is not None:
            value = order.profile.traits.get(trait)
            if not value:
                raise PermanentDelivery(
                    s.channel, f"customer {s.customer!r} has no {trait!r} trait to send to"
                )
            to = str(value)
        text, html = self._bodies(rendered, kind)
        # The open pixel is for email; an inbox message is marked opened when the site marks it read.
        if html is not None and self.links is not None and kind == "email":
            html += f'<img src="{self.links.open_url(order.workspace, s.key)}" width="1" height="1" alt="">'
        data: dict[str, object] = {"journey": s.journey, "node": s.node, "channel": s.channel}
        if "webhook.json" in rendered.parts:
            import orjson

            try:
                data["payload"] = orjson.loads(rendered.parts["webhook.json"])
            except orjson.JSONDecodeError as exc:
                raise TemplateError(s.template, f"webhook.json did not render to JSON: {exc}") from exc
        return Message(
            workspace=order.workspace,
            key=s.key,
            customer=s.customer,
            channel=s.channel,
            template=s.template,
            to=to,
            subject=rendered.part("subject"),
            text=text,
            html=html,
            message_id=message_id(s.key, self.settings.message_id_domain),
            unsubscribe_url=context["unsubscribe_url"] or None,
            data=data,
        )

    @staticmethod
    def _bodies(rendered: Rendered, kind: str) -> tuple[str, str | None]:
        html = rendered.parts.get(f"{kind}.html")
        text = rendered.parts.get(kind)
        if text is None:
            text = _TAGS.sub("", html).strip() if html else ""
        return text, html

    # --- rounds -------------------------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> RoundStats:
        """One round over every workspace: claim, render, record, send, close."""
        stats = RoundStats()
        for workspace in self.workspaces:
            stats.add(self._round(workspace, self.clock() if now is None else now))
        return stats

    def run(self, stop: threading.Event, *, idle: float = 0.5) -> RoundStats:
        """Rounds until `stop` is set, pausing `idle` seconds whenever a round found nothing to do."""
        total = RoundStats()
        while not stop.is_set():
            stats = self.run_once()
            total.add(stats)
            if stats.claimed == 0:
                stop.wait(idle)
        return total

    def _round(self, workspace: str, now: float) -> RoundStats:
        stats = RoundStats()
        items = self.store.store.claim_outbox(
            workspace, now, limit=self.settings.batch, lease=self.settings.lease
        )
        stats.claimed = len(items)
        if not items:
            return stats
        paused = self.store.paused(workspace)
        prior = self.store.sends(workspace, [i.key for i in items])
        results: list[Finished] = []
        sending: list[tuple[list[_Work], Future[list[tuple[Verdict, str | None]]]]] = []
        # Prepared sends go out in slices: each slice's attempts are recorded (one durable commit), then
        # handed to the workers, which send them while this thread renders the next slice. A slice is cut
        # into one run of sends per worker rather than a task per send: a task's future and the wakeups
        # around it cost about as much processor time as sending to a local server.
        for start in range(0, len(items), _SLICE):
            work: list[_Work] = []
            for item in items[start : start + _SLICE]:
                finished, job = self._prepare(workspace, item, prior.get(item.key), paused, now, stats)
                if finished is not None:
                    results.append(finished)
                if job is not None:
                    work.append(job)
            if work:
                self.store.begin_attempts(workspace, [w.info for w in work], at=self.clock())
                size = -(-len(work) // self._workers_wanted)
                for run in range(0, len(work), size):
                    jobs = work[run : run + size]
                    sending.append((jobs, self._pool.submit(self._deliver_all, jobs)))
        for jobs, future in sending:
            for job, answer in zip(jobs, future.result(), strict=True):
                results.append(self._close(workspace, job.item, job.info, answer, stats))
        self.store.finish(workspace, results, at=self.clock(), window=self.settings.thresholds.window)
        return stats

    def _prepare(
        self,
        workspace: str,
        item: OutboxItem,
        info: SendInfo | None,
        paused: frozenset[str],
        now: float,
        stats: RoundStats,
    ) -> tuple[Finished | None, _Work | None]:
        if item.kind != "send":
            return self._dead(
                item, f"outbox entry of kind {item.kind!r}: the relay only delivers sends", stats
            ), None
        if info is not None and info.status == "confirmed":
            # The provider accepted it before the last relay died: mark it, never send it again.
            stats.already_confirmed += 1
            stats.sent += 1
            return self._sent(workspace, info, info.provider_id), None
        try:
            order = decode_order(item.body)
        except ValueError as exc:
            return self._dead(item, f"outbox body is not a send order: {exc}", stats), None
        s = order.send
        if s.channel in paused or f"template:{s.template}" in paused:
            stats.deferred += 1
            return Finished(item.key, "deferred", retry_at=now + self.settings.pause_recheck), None
        send_info = SendInfo(
            s.key,
            s.customer,
            s.journey,
            s.version,
            s.run,
            s.node,
            s.channel,
            s.template,
            s.variant,
            s.topic,
            message_id(s.key, self.settings.message_id_domain),
            "sending",
            0,
            0,
            None,
            None,
        )
        if info is not None and info.status == "sending":
            stats.resent_in_doubt += 1
        try:
            message = self.render(order)
        except DeliveryError as exc:
            # This customer's send alone fails: recorded with its error, the rest of the batch goes on.
            stats.failed += 1
            stats.errors[item.key] = str(exc)
            at = self.clock()
            return Finished(
                item.key,
                "failed",
                error=str(exc),
                event=outcome_event(
                    workspace, send_info, "failed", at=at, received_at=at, properties={"error": str(exc)}
                ),
                record=delivery_record(workspace, send_info, "failed", at),
            ), None
        return None, _Work(item, send_info, message)

    def _dead(self, item: OutboxItem, error: str, stats: RoundStats) -> Finished:
        stats.failed += 1
        stats.errors[item.key] = error
        return Finished(item.key, "failed", error=error)

    def _sent(self, workspace: str, info: SendInfo, provider_id: str | None) -> Finished:
        at = self.clock()
        return Finished(
            info.key,
            "sent",
            provider_id=provider_id,
            event=outcome_event(workspace, info, "sent", at=at, received_at=at),
            record=delivery_record(workspace, info, "sent", at),
            counters=pause_targets(info),
        )

    def _deliver_all(self, jobs: list[_Work]) -> list[tuple[Verdict, str | None]]:
        return [self._deliver(job) for job in jobs]

    def _deliver(self, job: _Work) -> tuple[Verdict, str | None]:
        """In a worker thread: wait for the rate limits, hand the message over, confirm at once."""
        channel = job.message.channel
        for name in (channel, self._provider(channel)):
            if name is not None and name in self.buckets:
                self.buckets[name].acquire()
        worker = self._worker()
        try:
            provider_id = worker.channel(channel).deliver(job.message)
        except RetryableDelivery as exc:
            return "retry", str(exc)
        except PermanentDelivery as exc:
            return "permanent", str(exc)
        # Workers take turns here rather than in SQLite's busy handler, which sleeps milliseconds per retry.
        with self._confirm_lock:
            worker.store.confirm(
                job.message.workspace, job.message.key, at=self.clock(), provider_id=provider_id
            )
        return "ok", provider_id

    def _close(
        self,
        workspace: str,
        item: OutboxItem,
        info: SendInfo,
        answer: tuple[Verdict, str | None],
        stats: RoundStats,
    ) -> Finished:
        verdict, detail = answer
        if verdict == "ok":
            stats.sent += 1
            return self._sent(workspace, info, detail)
        error = detail or verdict
        attempt = item.attempts + 1
        if verdict == "retry" and not self.settings.retry.gives_up(attempt):
            stats.retried += 1
            retry_at = self.clock() + self.settings.retry.delay(attempt, self.rng)
            return Finished(item.key, "retry", error=error, retry_at=retry_at)
        stats.failed += 1
        stats.errors[item.key] = error
        at = self.clock()
        return Finished(
            item.key,
            "failed",
            error=error,
            event=outcome_event(
                workspace, info, "failed", at=at, received_at=at, properties={"error": error}
            ),
            record=delivery_record(workspace, info, "failed", at),
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._workers_lock:
            workers, self._workers = self._workers, []
        for worker in workers:
            worker.close()
        self.store.store.close()
