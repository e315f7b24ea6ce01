-- The catalogue: journeys and their published versions, segments, offers, tracking plans, templates,
-- workspace settings, the revision workers reload on, and the audit log. Every table is keyed by workspace.

CREATE TABLE journeys (
    workspace TEXT NOT NULL,
    journey TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'live', 'paused', 'stopped', 'archived')),
    draft TEXT,
    draft_revision INTEGER NOT NULL,
    latest_version INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workspace, journey)
);

CREATE TABLE journey_versions (
    workspace TEXT NOT NULL,
    journey TEXT NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    in_flight TEXT NOT NULL CHECK (in_flight IN ('drain', 'migrate', 'stop')),
    mapping TEXT NOT NULL,
    published_at DOUBLE PRECISION NOT NULL,
    published_seq INTEGER NOT NULL,
    PRIMARY KEY (workspace, journey, version)
);

CREATE INDEX journey_versions_order ON journey_versions (workspace, published_seq);

CREATE TABLE segments (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    rule TEXT NOT NULL,
    refresh DOUBLE PRECISION,
    description TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workspace, name)
);

CREATE TABLE offers (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workspace, name)
);

CREATE TABLE tracking_plans (
    workspace TEXT NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workspace, version)
);

CREATE TABLE templates (
    workspace TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workspace, name)
);

CREATE TABLE workspace_settings (
    workspace TEXT NOT NULL,
    settings TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workspace)
);

CREATE TABLE catalog_revisions (
    workspace TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (workspace)
);

CREATE TABLE audit_log (
    workspace TEXT NOT NULL,
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    actor_role TEXT NOT NULL,
    actor_key TEXT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE INDEX audit_object ON audit_log (workspace, kind, name, id);
