-- Delivery: delivery attempts and outcomes, the in-app inbox, offline tasks, paused channels and templates.
-- Every table is keyed by workspace; per-customer data carries the customer.

-- One row per send (its idempotency key): what it is, and how far its delivery got. `status` is
-- 'sending' from the moment an attempt is recorded until the provider answers ('confirmed' or 'failed');
-- 'sent' once the outbox entry is marked. A 'sending' row found by a later relay is in doubt.
CREATE TABLE deliveries (
    workspace TEXT NOT NULL,
    key TEXT NOT NULL,
    customer TEXT NOT NULL,
    journey TEXT NOT NULL,
    version INTEGER NOT NULL,
    run TEXT NOT NULL,
    node TEXT NOT NULL,
    channel TEXT NOT NULL,
    template TEXT NOT NULL,
    variant TEXT,
    topic TEXT,
    message_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sending', 'confirmed', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    resent_in_doubt INTEGER NOT NULL DEFAULT 0,
    provider_id TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    last_error TEXT,
    PRIMARY KEY (workspace, key)
);

CREATE INDEX deliveries_message ON deliveries (workspace, message_id);

CREATE TABLE delivery_inbox (
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    key TEXT NOT NULL,
    template TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    read_at REAL,
    PRIMARY KEY (workspace, key)
);

CREATE INDEX delivery_inbox_customer ON delivery_inbox (workspace, customer, created_at);

CREATE TABLE delivery_offline (
    workspace TEXT NOT NULL,
    key TEXT NOT NULL,
    customer TEXT NOT NULL,
    list TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    done_at REAL,
    PRIMARY KEY (workspace, key)
);

CREATE INDEX delivery_offline_list ON delivery_offline (workspace, list, created_at);

CREATE TABLE delivery_pauses (
    workspace TEXT NOT NULL,
    target TEXT NOT NULL,
    reason TEXT NOT NULL,
    automatic INTEGER NOT NULL,
    paused_at REAL NOT NULL,
    PRIMARY KEY (workspace, target)
);

-- Sends and bad outcomes per channel and per template in fixed windows: the automatic pause reads them.
CREATE TABLE delivery_counters (
    workspace TEXT NOT NULL,
    target TEXT NOT NULL,
    window_start REAL NOT NULL,
    sent INTEGER NOT NULL DEFAULT 0,
    bounced INTEGER NOT NULL DEFAULT 0,
    complained INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace, target, window_start)
);
