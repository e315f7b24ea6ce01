-- Workspaces, keys, the event log, customer state, timers, the outbox and records.
-- Every table is keyed by workspace; per-customer data by (workspace, customer).

CREATE TABLE workspaces (
    workspace TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE api_keys (
    workspace TEXT NOT NULL REFERENCES workspaces (workspace),
    role TEXT NOT NULL CHECK (role IN ('write', 'admin')),
    key_hash TEXT NOT NULL UNIQUE,
    PRIMARY KEY (workspace, role)
);

CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    received_at DOUBLE PRECISION NOT NULL,
    body BYTEA NOT NULL,
    processed_at DOUBLE PRECISION,
    UNIQUE (workspace, message_id)
);

CREATE INDEX events_pending ON events (workspace, customer, seq) WHERE processed_at IS NULL;

CREATE TABLE customer_state (
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    version INTEGER NOT NULL,
    state BYTEA NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workspace, customer)
);

CREATE TABLE timers (
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    run TEXT NOT NULL,
    token BIGINT NOT NULL,
    due_at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    claimed_until DOUBLE PRECISION,
    PRIMARY KEY (workspace, customer, run, token)
);

CREATE INDEX timers_due ON timers (workspace, due_at);

CREATE TABLE outbox (
    workspace TEXT NOT NULL,
    key TEXT NOT NULL,
    customer TEXT NOT NULL,
    kind TEXT NOT NULL,
    body BYTEA NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at DOUBLE PRECISION NOT NULL,
    due_at DOUBLE PRECISION NOT NULL,
    claimed_until DOUBLE PRECISION,
    finished_at DOUBLE PRECISION,
    last_error TEXT,
    PRIMARY KEY (workspace, key)
);

CREATE INDEX outbox_pending ON outbox (workspace, due_at) WHERE status = 'pending';

CREATE TABLE records (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    kind TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL
);

CREATE INDEX records_customer ON records (workspace, customer, id);
