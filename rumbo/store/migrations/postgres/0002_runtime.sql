-- The runtime: identity links, customers and where they were merged, dead letters, consent history.

CREATE TABLE identities (
    workspace TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer TEXT NOT NULL,
    PRIMARY KEY (workspace, kind, value)
);

CREATE INDEX identities_customer ON identities (workspace, customer);

CREATE TABLE customers (
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    anchor_kind TEXT NOT NULL,
    anchor_value TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    merged_into TEXT,
    PRIMARY KEY (workspace, customer)
);

CREATE TABLE dead_letters (
    workspace TEXT NOT NULL,
    message_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    letter BYTEA NOT NULL,
    PRIMARY KEY (workspace, message_id)
);

CREATE INDEX dead_letters_rule ON dead_letters (workspace, rule, at);

CREATE TABLE consent_log (
    id BIGSERIAL PRIMARY KEY,
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    scope TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    source TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);

CREATE INDEX consent_log_customer ON consent_log (workspace, customer, id);
