"""Channels that deliver into rumbo itself: the in-app inbox, and offline task lists.

Both write a row keyed by the send's idempotency key (a second delivery of the same send is a no-op),
so they are exactly-once by construction. Offline tasks are also appended to a file per list
(`<dir>/<workspace>/<list>.jsonl` or `.csv`) for teams that pick work up from files: the line is written
after the row, only when the row is new, and flushed before the relay moves on — a crash between the two
leaves a task in the API but not in the file, never a task twice in the file.
"""

from __future__ import annotations

import csv
import io
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import orjson

from rumbo.delivery.errors import RetryableDelivery
from rumbo.delivery.message import Message
from rumbo.store.deliveries import DeliveryStore, InboxMessage, OfflineTask
from rumbo.store.errors import StoreError

OFFLINE_LISTS = ("offline", "call_centre", "store", "direct_mail")
CSV_COLUMNS = ("key", "customer", "list", "template", "subject", "text", "created_at")


class InboxChannel:
    """Files the message in the customer's in-app inbox, which a site or app reads over the API."""

    name = "inbox"

    def __init__(self, store: DeliveryStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def deliver(self, message: Message) -> str | None:
        try:
            self.store.add_inbox(
                message.workspace,
                InboxMessage(
                    message.key,
                    message.customer,
                    message.template,
                    message.subject,
                    message.html or message.text,
                    self.clock(),
                    None,
                ),
            )
        except StoreError as exc:
            raise RetryableDelivery("inbox", str(exc)) from exc
        return message.key

    def close(self) -> None:
        pass


class OfflineChannel:
    """Adds a task for a team — call centre, stores, direct mail — to its list, and to the list's file."""

    def __init__(
        self,
        name: str,
        store: DeliveryStore,
        directory: Path | None,
        *,
        file_format: Literal["jsonl", "csv"] = "jsonl",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.store = store
        self.directory = directory
        self.file_format = file_format
        self.clock = clock

    def deliver(self, message: Message) -> str | None:
        task = OfflineTask(
            message.key,
            message.customer,
            self.name,
            {"template": message.template, "subject": message.subject, "text": message.text, **message.data},
            self.clock(),
            None,
        )
        try:
            new = self.store.add_offline(message.workspace, task)
        except StoreError as exc:
            raise RetryableDelivery(self.name, str(exc)) from exc
        if new and self.directory is not None:
            self._append(message.workspace, task, message)
        return message.key

    def _append(self, workspace: str, task: OfflineTask, message: Message) -> None:
        folder = self.directory / workspace if self.directory else Path(workspace)
        path = folder / f"{self.name}.{self.file_format}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if self.file_format == "jsonl":
                line = (
                    orjson.dumps(
                        {
                            "key": task.key,
                            "customer": task.customer,
                            "list": task.list,
                            "created_at": task.created_at,
                            **task.body,
                        }
                    )
                    + b"\n"
                )
            else:
                if not path.exists():
                    _create_with_header(path)
                out = io.StringIO()
                writer = csv.writer(out)
                writer.writerow(
                    [
                        task.key,
                        task.customer,
                        task.list,
                        message.template,
                        message.subject,
                        message.text,
                        task.created_at,
                    ]
                )
                line = out.getvalue().encode()
            # One write() of the whole line on an O_APPEND descriptor: lines from two relays never interleave.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            raise RetryableDelivery(self.name, f"cannot append to {path}: {exc}") from exc

    def close(self) -> None:
        pass


def _create_with_header(path: Path) -> None:
    """Create the CSV file holding only its header, atomically: two relays that both find no file must not
    both write a header (the second would read as a task). The header is written to a file of this
    thread's own and linked into place; whoever links second finds the file there and leaves it alone."""
    own = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    buffer = io.StringIO()
    csv.writer(buffer).writerow(CSV_COLUMNS)
    own.write_text(buffer.getvalue())
    try:
        os.link(own, path)
    except FileExistsError:
        pass
    finally:
        own.unlink()
