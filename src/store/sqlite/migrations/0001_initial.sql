-- cns SQLite schema, version 1.
-- Times are INTEGER milliseconds since the Unix epoch; JSON values are TEXT; booleans are 0/1.
-- The task lifecycle (src/core/status.ts TRANSITIONS) is enforced twice: by the store's code and by
-- the trigger at the end of this file. Keep the trigger's list identical to TRANSITIONS.

CREATE TABLE workflows (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  -- Default review setting of its tasks (applied when the batch is normalised).
  review      INTEGER NOT NULL DEFAULT 0 CHECK (review IN (0, 1)),
  created_by  TEXT,
  created_at  INTEGER NOT NULL,
  metadata    TEXT    NOT NULL DEFAULT '{}'
);

CREATE TABLE agents (
  id                 INTEGER PRIMARY KEY,
  name               TEXT    NOT NULL UNIQUE,
  type               TEXT    NOT NULL,
  capabilities       TEXT    NOT NULL DEFAULT '[]',
  host               TEXT,
  pid                INTEGER,
  client_info        TEXT,
  registered_at      INTEGER NOT NULL,
  last_heartbeat_at  INTEGER NOT NULL,
  deregistered_at    INTEGER,
  -- Set by the reaper when it reports the agent offline (once); cleared by a heartbeat or registration.
  offline_marked_at  INTEGER
);

CREATE TABLE tasks (
  id                   INTEGER PRIMARY KEY,
  workflow_id          INTEGER REFERENCES workflows (id),
  ref                  TEXT,
  type                 TEXT    NOT NULL,
  -- JSON array of capability names, all required.
  requires             TEXT    NOT NULL DEFAULT '[]',
  title                TEXT    NOT NULL,
  spec                 TEXT    NOT NULL DEFAULT '',
  input                TEXT,
  priority             INTEGER NOT NULL DEFAULT 0 CHECK (typeof(priority) = 'integer'),
  run_after            INTEGER NOT NULL,
  -- 1 when the task has rows in task_deps (lets a claim skip the dependency query).
  has_deps             INTEGER NOT NULL DEFAULT 0 CHECK (has_deps IN (0, 1)),
  status               TEXT    NOT NULL CHECK (
                         status = 'blocked' OR status = 'pending' OR status = 'assigned'
                         OR status = 'in_progress' OR status = 'awaiting_review' OR status = 'completed'
                         OR status = 'failed' OR status = 'cancelled'),
  attempts             INTEGER NOT NULL DEFAULT 0 CHECK (typeof(attempts) = 'integer' AND attempts >= 0),
  max_attempts         INTEGER NOT NULL CHECK (typeof(max_attempts) = 'integer' AND max_attempts >= 1),
  lease_token          TEXT,
  lease_agent_id       INTEGER REFERENCES agents (id),
  lease_agent_name     TEXT,
  lease_expires_at     INTEGER,
  assigned_to          INTEGER REFERENCES agents (id),
  review               INTEGER NOT NULL DEFAULT 0 CHECK (review IN (0, 1)),
  review_rounds        INTEGER NOT NULL DEFAULT 0 CHECK (review_rounds >= 0),
  max_review_rounds    INTEGER NOT NULL CHECK (max_review_rounds >= 1),
  progress_note        TEXT,
  progress_percent     REAL    CHECK (progress_percent IS NULL OR progress_percent BETWEEN 0 AND 100),
  progress_checkpoint  TEXT,
  progress_at          INTEGER,
  result               TEXT,
  result_data          TEXT,
  error                TEXT,
  completed_by         INTEGER,
  idempotency_key      TEXT    UNIQUE,
  metadata             TEXT    NOT NULL DEFAULT '{}',
  created_by           TEXT,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  started_at           INTEGER,
  finished_at          INTEGER,
  -- A lease exists exactly while the task is in progress.
  CHECK (status <> 'in_progress' OR (lease_token IS NOT NULL AND lease_agent_id IS NOT NULL
                                     AND lease_agent_name IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CHECK (status = 'in_progress' OR (lease_token IS NULL AND lease_agent_id IS NULL
                                    AND lease_agent_name IS NULL AND lease_expires_at IS NULL)),
  -- A reservation exists exactly while the task is assigned.
  CHECK ((status = 'assigned') = (assigned_to IS NOT NULL)),
  -- Final tasks carry their finishing time; open ones do not.
  CHECK ((status = 'completed' OR status = 'failed' OR status = 'cancelled') = (finished_at IS NOT NULL))
);

CREATE TABLE task_deps (
  task_id     INTEGER NOT NULL REFERENCES tasks (id),
  depends_on  INTEGER NOT NULL REFERENCES tasks (id),
  PRIMARY KEY (task_id, depends_on),
  CHECK (task_id <> depends_on)
) WITHOUT ROWID;

CREATE TABLE attempts (
  task_id     INTEGER NOT NULL REFERENCES tasks (id),
  seq         INTEGER NOT NULL CHECK (seq >= 1),
  agent_id    INTEGER NOT NULL,
  agent_name  TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER,
  outcome     TEXT    NOT NULL CHECK (
                outcome = 'running' OR outcome = 'completed' OR outcome = 'submitted_for_review'
                OR outcome = 'failed' OR outcome = 'released' OR outcome = 'expired' OR outcome = 'cancelled'),
  note        TEXT,
  percent     REAL    CHECK (percent IS NULL OR percent BETWEEN 0 AND 100),
  checkpoint  TEXT,
  error       TEXT,
  feedback    TEXT,
  result      TEXT,
  PRIMARY KEY (task_id, seq),
  CHECK ((outcome = 'running') = (ended_at IS NULL))
) WITHOUT ROWID;

-- An append-only log: rows are never deleted, so a plain INTEGER PRIMARY KEY never reuses an id
-- (AUTOINCREMENT would add a sqlite_sequence read and write to every event).
CREATE TABLE events (
  id           INTEGER PRIMARY KEY,
  at           INTEGER NOT NULL,
  kind         TEXT    NOT NULL,
  task_id      INTEGER,
  workflow_id  INTEGER,
  agent_id     INTEGER,
  actor        TEXT    NOT NULL,
  from_status  TEXT,
  to_status    TEXT,
  message      TEXT,
  data         TEXT
);

-- The claim: pending tasks of a type, highest priority first, then oldest.
CREATE INDEX tasks_claim ON tasks (type, priority DESC, id) WHERE status = 'pending';
CREATE INDEX tasks_assigned ON tasks (assigned_to) WHERE status = 'assigned';
-- The tasks in progress (few: at most one or two per live agent), by holder: a claim and a completion
-- each write one entry here. The reaper's expiry sweep reads this small set whole, so lease_expires_at
-- needs no index of its own (which every claim, completion and heartbeat would have to write).
CREATE INDEX tasks_in_progress ON tasks (lease_agent_id) WHERE status = 'in_progress';
CREATE INDEX tasks_workflow ON tasks (workflow_id);
CREATE INDEX task_deps_depends_on ON task_deps (depends_on);
CREATE INDEX events_task ON events (task_id);
-- Partial: events of tasks outside workflows and of agents skip it (a `workflow_id = ?` lookup still uses it).
CREATE INDEX events_workflow ON events (workflow_id) WHERE workflow_id IS NOT NULL;
CREATE INDEX agents_last_heartbeat ON agents (last_heartbeat_at) WHERE deregistered_at IS NULL;

-- Legal status transitions: the pairs of TRANSITIONS in src/core/status.ts. An update that
-- leaves the status unchanged is no transition. The pairs are one delimited string searched with
-- instr(), and the CHECKs above compare with OR rather than IN (…): SQLite evaluates an IN list of
-- more than two constants by building a temporary b-tree on every statement execution, which would
-- cost every claim and completion. (A forged status containing '|' or '>' cannot slip through:
-- the status CHECK rejects it.)
CREATE TRIGGER tasks_status_transition
BEFORE UPDATE OF status ON tasks
WHEN NEW.status IS NOT OLD.status
 AND instr(
   '|blocked>pending|blocked>cancelled'
   || '|pending>assigned|pending>in_progress|pending>blocked|pending>cancelled|pending>failed'
   || '|assigned>in_progress|assigned>pending|assigned>cancelled'
   || '|in_progress>completed|in_progress>awaiting_review|in_progress>pending|in_progress>failed'
   || '|in_progress>cancelled'
   || '|awaiting_review>completed|awaiting_review>pending|awaiting_review>failed|awaiting_review>cancelled'
   || '|completed>pending|completed>blocked'
   || '|failed>pending|failed>blocked'
   || '|cancelled>pending|cancelled>blocked|',
   '|' || OLD.status || '>' || NEW.status || '|') = 0
BEGIN
  SELECT RAISE(ABORT, 'illegal task status transition');
END;
