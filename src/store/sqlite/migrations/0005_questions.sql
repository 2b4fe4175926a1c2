-- cns SQLite schema, version 5: questions. An agent holding a task may ask a question; the task
-- waits in the new status `waiting_input` (no lease) until someone answers, then returns to pending,
-- kept for the agent that asked for a while (prefer_agent_id, prefer_until).
--
-- SQLite cannot alter a CHECK constraint, so the tasks table (its status CHECK) and the attempts
-- table (its outcome CHECK, with the new outcome `asked`) are rebuilt: create, copy, drop, rename,
-- then their indexes and the transition trigger again (the migration runner turns foreign keys off
-- meanwhile and checks them before the commit). The transition trigger lists the moves of
-- src/core/status.ts; test/state-machine.test.ts reads it back.

CREATE TABLE tasks_new (
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
                         OR status = 'in_progress' OR status = 'waiting_input' OR status = 'awaiting_review'
                         OR status = 'completed' OR status = 'failed' OR status = 'cancelled'),
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
  lease_session        TEXT,
  lease_ms             INTEGER,
  -- A pending task kept for one agent until prefer_until (the agent that asked, once answered).
  prefer_agent_id      INTEGER,
  prefer_until         INTEGER,
  -- A lease exists exactly while the task is in progress.
  CHECK (status <> 'in_progress' OR (lease_token IS NOT NULL AND lease_agent_id IS NOT NULL
                                     AND lease_agent_name IS NOT NULL AND lease_expires_at IS NOT NULL)),
  CHECK (status = 'in_progress' OR (lease_token IS NULL AND lease_agent_id IS NULL
                                    AND lease_agent_name IS NULL AND lease_expires_at IS NULL)),
  -- A reservation exists exactly while the task is assigned.
  CHECK ((status = 'assigned') = (assigned_to IS NOT NULL)),
  -- Final tasks carry their finishing time; open ones do not.
  CHECK ((status = 'completed' OR status = 'failed' OR status = 'cancelled') = (finished_at IS NOT NULL)),
  -- A preference is an agent and a time, on a pending task only.
  CHECK ((prefer_agent_id IS NULL) = (prefer_until IS NULL)),
  CHECK (prefer_agent_id IS NULL OR status = 'pending')
);

INSERT INTO tasks_new (id, workflow_id, ref, type, requires, title, spec, input, priority, run_after, has_deps,
  status, attempts, max_attempts, lease_token, lease_agent_id, lease_agent_name, lease_expires_at, assigned_to,
  review, review_rounds, max_review_rounds, progress_note, progress_percent, progress_checkpoint, progress_at,
  result, result_data, error, completed_by, idempotency_key, metadata, created_by, created_at, updated_at,
  started_at, finished_at, lease_session, lease_ms)
SELECT id, workflow_id, ref, type, requires, title, spec, input, priority, run_after, has_deps,
  status, attempts, max_attempts, lease_token, lease_agent_id, lease_agent_name, lease_expires_at, assigned_to,
  review, review_rounds, max_review_rounds, progress_note, progress_percent, progress_checkpoint, progress_at,
  result, result_data, error, completed_by, idempotency_key, metadata, created_by, created_at, updated_at,
  started_at, finished_at, lease_session, lease_ms
FROM tasks;

DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;

CREATE INDEX tasks_claim ON tasks (type, priority DESC, id) WHERE status = 'pending';
CREATE INDEX tasks_assigned ON tasks (assigned_to) WHERE status = 'assigned';
CREATE INDEX tasks_in_progress ON tasks (lease_agent_id) WHERE status = 'in_progress';
CREATE INDEX tasks_workflow ON tasks (workflow_id);
-- The few pending tasks kept for an agent: its claim looks here before the queue.
CREATE INDEX tasks_preferred ON tasks (prefer_agent_id) WHERE prefer_agent_id IS NOT NULL;

CREATE TRIGGER tasks_status_transition
BEFORE UPDATE OF status ON tasks
WHEN NEW.status IS NOT OLD.status
 AND instr(
   '|blocked>pending|blocked>cancelled'
   || '|pending>assigned|pending>in_progress|pending>cancelled'
   || '|assigned>in_progress|assigned>cancelled'
   || '|in_progress>pending|in_progress>waiting_input|in_progress>awaiting_review|in_progress>completed'
   || '|in_progress>failed|in_progress>cancelled'
   || '|waiting_input>pending|waiting_input>cancelled'
   || '|awaiting_review>pending|awaiting_review>completed|awaiting_review>failed|awaiting_review>cancelled'
   || '|failed>blocked|failed>pending'
   || '|cancelled>blocked|cancelled>pending|',
   '|' || OLD.status || '>' || NEW.status || '|') = 0
BEGIN
  SELECT RAISE(ABORT, 'illegal task status transition');
END;

CREATE TABLE attempts_new (
  task_id     INTEGER NOT NULL REFERENCES tasks (id),
  seq         INTEGER NOT NULL CHECK (seq >= 1),
  agent_id    INTEGER NOT NULL,
  agent_name  TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  ended_at    INTEGER,
  outcome     TEXT    NOT NULL CHECK (
                outcome = 'running' OR outcome = 'completed' OR outcome = 'submitted_for_review'
                OR outcome = 'failed' OR outcome = 'released' OR outcome = 'expired' OR outcome = 'cancelled'
                OR outcome = 'asked'),
  note        TEXT,
  percent     REAL    CHECK (percent IS NULL OR percent BETWEEN 0 AND 100),
  checkpoint  TEXT,
  error       TEXT,
  feedback    TEXT,
  result      TEXT,
  lease_token TEXT,
  PRIMARY KEY (task_id, seq),
  CHECK ((outcome = 'running') = (ended_at IS NULL))
) WITHOUT ROWID;

INSERT INTO attempts_new (task_id, seq, agent_id, agent_name, started_at, ended_at, outcome, note, percent,
  checkpoint, error, feedback, result, lease_token)
SELECT task_id, seq, agent_id, agent_name, started_at, ended_at, outcome, note, percent,
  checkpoint, error, feedback, result, lease_token
FROM attempts;

DROP TABLE attempts;
ALTER TABLE attempts_new RENAME TO attempts;

-- Questions, oldest first per task; at most one open per task (its task is waiting_input).
CREATE TABLE questions (
  id                    INTEGER PRIMARY KEY,
  task_id               INTEGER NOT NULL REFERENCES tasks (id),
  workflow_id           INTEGER,
  attempt_seq           INTEGER NOT NULL,
  asked_by_agent_id     INTEGER NOT NULL,
  asked_by_name         TEXT    NOT NULL,
  -- Whom it is for: 'supervisor' or a named person or role.
  for_whom              TEXT    NOT NULL,
  text                  TEXT    NOT NULL,
  -- JSON array of suggested answers, or NULL.
  choices               TEXT,
  -- JSON, or NULL.
  context               TEXT,
  asked_at              INTEGER NOT NULL,
  status                TEXT    NOT NULL CHECK (status = 'open' OR status = 'answered' OR status = 'closed'),
  answer                TEXT,
  answered_by           TEXT,
  answered_by_agent_id  INTEGER,
  answered_at           INTEGER,
  closed_reason         TEXT,
  CHECK ((status = 'answered') = (answer IS NOT NULL AND answered_by IS NOT NULL AND answered_at IS NOT NULL))
);
CREATE UNIQUE INDEX questions_one_open ON questions (task_id) WHERE status = 'open';
CREATE INDEX questions_task ON questions (task_id);
