-- The archive feed: the analytics exporter copies the event log and the records to Parquet, and keeps
-- here, per workspace and record kind, how far it has got.
--
-- Rows are exported in (txid, id) order. On PostgreSQL `txid` is the writing transaction's id, because ids
-- are drawn when a row is inserted, not when it commits, so an id can become visible after a higher one;
-- rows are only exported once every transaction below a txid has ended. SQLite has one writer at a time, so
-- its ids already commit in order and `txid` stays 0.
ALTER TABLE events ADD COLUMN txid INTEGER NOT NULL DEFAULT 0;

ALTER TABLE records ADD COLUMN txid INTEGER NOT NULL DEFAULT 0;

CREATE INDEX events_archive ON events (workspace, txid, seq);

CREATE INDEX records_archive ON records (workspace, kind, txid, id);

-- One row per (workspace, kind): the position exported up to, the batch being written (`pending_*`, set
-- before its files are written and cleared when the position moves past it), and the exporter holding the
-- row (`owner` until `lease_until`), so two exporters never write the same rows.
CREATE TABLE archive_cursors (
    workspace TEXT NOT NULL,
    kind TEXT NOT NULL,
    txid INTEGER NOT NULL,
    last_id INTEGER NOT NULL,
    pending_txid INTEGER,
    pending_id INTEGER,
    exported INTEGER NOT NULL,
    owner TEXT,
    lease_until REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (workspace, kind)
);
