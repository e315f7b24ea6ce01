"""`python -m rumbo.delivery SETTINGS DATABASE WORKSPACE`: a bare relay process, as the crash tests run it.

DATABASE is a SQLite file path or a postgresql:// URL (`--schema` picks its schema). The process delivers
until killed or sent SIGTERM; with `--drain` it exits once the workspace's outbox has nothing pending.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from rumbo.delivery.relay import Relay
from rumbo.delivery.settings import load_settings
from rumbo.store.postgres import PostgresStore
from rumbo.store.sql import SqlStore
from rumbo.store.sqlite import SqliteStore


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m rumbo.delivery")
    parser.add_argument("settings")
    parser.add_argument("database")
    parser.add_argument("workspace")
    parser.add_argument("--schema", default=None)
    parser.add_argument("--drain", action="store_true")
    args = parser.parse_args(argv)

    def connect() -> SqlStore:
        if args.database.startswith("postgresql://"):
            return PostgresStore(args.database, schema=args.schema)
        return SqliteStore(args.database)

    relay = Relay(connect, load_settings(args.settings), [args.workspace])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    probe = connect()
    while not stop.is_set():
        if relay.run_once().claimed == 0:
            if args.drain:
                pending = probe._query(
                    "SELECT COUNT(*) FROM outbox WHERE workspace = ? AND status = 'pending'",
                    (args.workspace,),
                )
                if pending[0][0] == 0:
                    break
            stop.wait(0.05)
    probe.close()
    relay.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
