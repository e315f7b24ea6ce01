-- Segments and the journey lifecycle in the runtime: who is in which segment, the walks over customers
-- that re-evaluate segments, fire schedules and move runs after a publish or a stop, and the timers held
-- while their journey is paused.

-- Written by the worker in the same transaction as the step that changed the membership.
CREATE TABLE segment_members (
    workspace TEXT NOT NULL,
    customer TEXT NOT NULL,
    segment TEXT NOT NULL,
    entered_at REAL NOT NULL,
    PRIMARY KEY (workspace, customer, segment)
) WITHOUT ROWID;

CREATE INDEX segment_members_segment ON segment_members (workspace, segment, customer);

-- One row per walk ('segment:<name>', 'schedule:<journey>', 'rollout:<journey>'): what its current pass
-- is for (`mark`: a rule, a cron time, a publish), the pass's number (it only grows, so the messages of
-- two passes never share an id), when it started, and the last customer it got to; `finished_at` is set
-- when the pass has seen every customer.
CREATE TABLE walks (
    workspace TEXT NOT NULL,
    walk TEXT NOT NULL,
    mark TEXT NOT NULL,
    pass_no INTEGER NOT NULL,
    started_at REAL NOT NULL,
    cursor TEXT NOT NULL,
    finished_at REAL,
    PRIMARY KEY (workspace, walk)
);

-- A timer that fell due while its journey was paused: the journey's id, until it resumes.
ALTER TABLE timers ADD COLUMN held TEXT;

CREATE INDEX timers_held ON timers (workspace, held) WHERE held IS NOT NULL;
