-- cns on PostgreSQL: the initial schema. Runs inside the store's own schema (search_path is set by
-- the migration runner), in one transaction, under an advisory lock.
--
-- Times are bigint milliseconds since the Unix epoch. Unless a test injects a clock, the store
-- computes them from the database server's clock (now_ms()), never from a caller's clock.

CREATE FUNCTION now_ms() RETURNS bigint
  LANGUAGE sql STABLE
  AS $$ SELECT (extract(epoch FROM statement_timestamp()) * 1000)::bigint $$;

-- Backoff before attempt `attempts + 1`: base × 2^(attempts−1), capped (core/policy.ts retryDelayMs).
CREATE FUNCTION retry_delay_ms(p_attempts integer, p_base bigint, p_max bigint) RETURNS bigint
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT least(p_max::numeric, p_base::numeric * power(2::numeric, least(greatest(p_attempts - 1, 0), 30)))::bigint $$;

CREATE TABLE workflows (
  id          bigserial PRIMARY KEY,
  name        text    NOT NULL,
  review      boolean NOT NULL DEFAULT false,
  metadata    jsonb   NOT NULL DEFAULT '{}',
  created_by  text,
  created_at  bigint  NOT NULL
);

CREATE TABLE agents (
  id                 bigserial PRIMARY KEY,
  name               text   NOT NULL UNIQUE,
  type               text   NOT NULL,
  capabilities       text[] NOT NULL DEFAULT '{}',
  host               text,
  pid                integer,
  client_info        jsonb,
  registered_at      bigint NOT NULL,
  last_heartbeat_at  bigint NOT NULL,
  deregistered_at    bigint,
  -- Set once when the reaper marks the agent offline (event agent.offline); cleared by a heartbeat.
  offline_marked_at  bigint
);

CREATE TABLE tasks (
  id                 bigserial PRIMARY KEY,
  workflow_id        bigint REFERENCES workflows (id),
  ref                text,
  type               text    NOT NULL,
  requires           text[]  NOT NULL DEFAULT '{}',
  title              text    NOT NULL,
  spec               text    NOT NULL DEFAULT '',
  input              jsonb,
  priority           integer NOT NULL DEFAULT 0,
  run_after          bigint  NOT NULL,
  -- Immutable copy of task_dependencies for cheap reads.
  depends_on         bigint[] NOT NULL DEFAULT '{}',
  status             text    NOT NULL,
  attempts           integer NOT NULL DEFAULT 0,
  max_attempts       integer NOT NULL,
  -- No foreign keys on the lease and attempt columns: they are written by every claim and
  -- completion, and a key check (a locking read of the agent row) on each would cost throughput.
  lease_agent_id     bigint,
  lease_agent_name   text,
  lease_token        text,
  lease_expires_at   bigint,
  assigned_to        bigint REFERENCES agents (id),
  review             boolean NOT NULL DEFAULT false,
  review_rounds      integer NOT NULL DEFAULT 0,
  max_review_rounds  integer NOT NULL,
  progress_note      text,
  progress_percent   double precision,
  progress_checkpoint jsonb,
  progress_at        bigint,
  result             text,
  result_data        jsonb,
  error              text,
  completed_by       bigint,
  idempotency_key    text,
  metadata           jsonb   NOT NULL DEFAULT '{}',
  created_by         text,
  created_at         bigint  NOT NULL,
  updated_at         bigint  NOT NULL,
  started_at         bigint,
  finished_at        bigint,

  CONSTRAINT tasks_status_valid CHECK (status IN
    ('blocked', 'pending', 'assigned', 'in_progress', 'awaiting_review', 'completed', 'failed', 'cancelled')),
  -- A lease exists exactly while the task is in progress, and all of its parts together.
  CONSTRAINT tasks_lease_iff_in_progress CHECK (
    (status = 'in_progress') = (lease_token IS NOT NULL)
    AND (lease_token IS NULL) = (lease_agent_id IS NULL)
    AND (lease_token IS NULL) = (lease_agent_name IS NULL)
    AND (lease_token IS NULL) = (lease_expires_at IS NULL)),
  CONSTRAINT tasks_assigned_iff_assignee CHECK ((status = 'assigned') = (assigned_to IS NOT NULL)),
  CONSTRAINT tasks_finished_iff_final CHECK (
    (status IN ('completed', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
  CONSTRAINT tasks_completed_has_author CHECK (
    status NOT IN ('completed', 'awaiting_review') OR completed_by IS NOT NULL),
  CONSTRAINT tasks_attempts_valid CHECK (attempts >= 0 AND max_attempts >= 1),
  CONSTRAINT tasks_review_rounds_valid CHECK (review_rounds >= 0 AND max_review_rounds >= 1),
  CONSTRAINT tasks_percent_valid CHECK (progress_percent IS NULL OR progress_percent BETWEEN 0 AND 100)
);

-- The claimable set stays small however many tasks are finished: claims read only these.
-- Partial unique indexes: most tasks have neither, and every status change writes each index a row is in.
CREATE UNIQUE INDEX tasks_idempotency_key_key ON tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX tasks_ref_unique ON tasks (workflow_id, ref) WHERE ref IS NOT NULL AND workflow_id IS NOT NULL;
CREATE INDEX tasks_pending_claim_idx ON tasks (type, priority DESC, id) WHERE status = 'pending';
CREATE INDEX tasks_assigned_idx ON tasks (assigned_to, priority DESC, id) WHERE status = 'assigned';
-- The tasks in progress (few: about one per live agent), by holder. The lease sweep reads this
-- small set whole, so lease_expires_at has no index of its own: every claim and completion would
-- write one more entry, and a heartbeat's renewal could no longer be a HOT update.
CREATE INDEX tasks_lease_agent_idx ON tasks (lease_agent_id) WHERE status = 'in_progress';
CREATE INDEX tasks_blocked_idx ON tasks (id) WHERE status = 'blocked';
CREATE INDEX tasks_workflow_idx ON tasks (workflow_id, status) WHERE workflow_id IS NOT NULL;

CREATE TABLE task_dependencies (
  task_id        bigint NOT NULL REFERENCES tasks (id),
  depends_on_id  bigint NOT NULL REFERENCES tasks (id),
  PRIMARY KEY (task_id, depends_on_id),
  CHECK (task_id <> depends_on_id)
);
CREATE INDEX task_dependencies_depends_on_idx ON task_dependencies (depends_on_id);

CREATE TABLE attempts (
  task_id     bigint  NOT NULL,
  seq         integer NOT NULL,
  agent_id    bigint  NOT NULL,
  agent_name  text    NOT NULL,
  started_at  bigint  NOT NULL,
  ended_at    bigint,
  outcome     text    NOT NULL DEFAULT 'running',
  note        text,
  percent     double precision,
  checkpoint  jsonb,
  error       text,
  feedback    text,
  result      text,
  PRIMARY KEY (task_id, seq),
  CONSTRAINT attempts_outcome_valid CHECK (outcome IN
    ('running', 'completed', 'submitted_for_review', 'failed', 'released', 'expired', 'cancelled')),
  CONSTRAINT attempts_ended_iff_not_running CHECK ((outcome = 'running') = (ended_at IS NULL))
);
CREATE UNIQUE INDEX attempts_one_running_idx ON attempts (task_id) WHERE outcome = 'running';

CREATE TABLE events (
  id           bigserial PRIMARY KEY,
  at           bigint NOT NULL,
  kind         text   NOT NULL,
  task_id      bigint,
  workflow_id  bigint,
  agent_id     bigint,
  actor        text   NOT NULL,
  from_status  text,
  to_status    text,
  message      text,
  data         jsonb
);
CREATE INDEX events_task_idx ON events (task_id, id) WHERE task_id IS NOT NULL;
CREATE INDEX events_workflow_idx ON events (workflow_id, id) WHERE workflow_id IS NOT NULL;
CREATE INDEX events_agent_idx ON events (agent_id, id) WHERE agent_id IS NOT NULL;

-- The lifecycle (core/status.ts TRANSITIONS), enforced on every status change.
CREATE FUNCTION check_task_transition() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NOT (CASE OLD.status
      WHEN 'blocked'         THEN NEW.status IN ('pending', 'cancelled')
      WHEN 'pending'         THEN NEW.status IN ('assigned', 'in_progress', 'blocked', 'cancelled', 'failed')
      WHEN 'assigned'        THEN NEW.status IN ('in_progress', 'pending', 'cancelled')
      WHEN 'in_progress'     THEN NEW.status IN ('completed', 'awaiting_review', 'pending', 'failed', 'cancelled')
      WHEN 'awaiting_review' THEN NEW.status IN ('completed', 'pending', 'failed', 'cancelled')
      WHEN 'completed'       THEN NEW.status IN ('pending', 'blocked')
      WHEN 'failed'          THEN NEW.status IN ('pending', 'blocked')
      WHEN 'cancelled'       THEN NEW.status IN ('pending', 'blocked')
      ELSE false
    END) THEN
    RAISE EXCEPTION 'illegal task status transition % -> % (task %)', OLD.status, NEW.status, OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

-- The WHEN clause lists the legal transitions, so the function runs only to reject an illegal one
-- (a plpgsql call on every claim and completion would cost throughput); it checks again itself.
-- The pairs are one delimited string searched with strpos(): a trigger's WHEN expression is rebuilt
-- for every statement that updates tasks, and 25 row comparisons made that cost more than the rest
-- of a claim's update. (A forged status containing '|' or '>' cannot slip through: tasks_status_valid.)
CREATE TRIGGER tasks_status_transition
  BEFORE UPDATE OF status ON tasks
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND strpos(
    '|blocked>pending|blocked>cancelled'
    '|pending>assigned|pending>in_progress|pending>blocked|pending>cancelled|pending>failed'
    '|assigned>in_progress|assigned>pending|assigned>cancelled'
    '|in_progress>completed|in_progress>awaiting_review|in_progress>pending|in_progress>failed'
    '|in_progress>cancelled'
    '|awaiting_review>completed|awaiting_review>pending|awaiting_review>failed|awaiting_review>cancelled'
    '|completed>pending|completed>blocked'
    '|failed>pending|failed>blocked'
    '|cancelled>pending|cancelled>blocked|',
    '|' || OLD.status || '>' || NEW.status || '|') = 0)
  EXECUTE FUNCTION check_task_transition();

-- Wake-ups: a hint on channel cns_<schema> when tasks appear, when work becomes claimable or needs
-- someone (pending, assigned, awaiting_review), fails or is cancelled, and on progress. Claims and
-- plain completions do not notify: NOTIFY serialises committing transactions, and nobody is
-- blocked on those (a completion that unblocks dependents notifies through them); watchers' polling
-- backstop sees them within a second. PostgreSQL folds identical notifications of a transaction.
CREATE FUNCTION notify_task_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('cns_' || TG_TABLE_SCHEMA, '');
  RETURN NULL;
END
$$;

CREATE TRIGGER tasks_notify_insert
  AFTER INSERT ON tasks
  FOR EACH STATEMENT EXECUTE FUNCTION notify_task_change();

CREATE TRIGGER tasks_notify_update
  AFTER UPDATE ON tasks
  FOR EACH ROW WHEN (
    (OLD.status IS DISTINCT FROM NEW.status AND NEW.status NOT IN ('in_progress', 'completed'))
    OR OLD.progress_at IS DISTINCT FROM NEW.progress_at)
  EXECUTE FUNCTION notify_task_change();

-- Dependents of a task that has just completed, whose dependencies are now all completed, become
-- pending (event task.unblocked). A volatile function: each statement below takes a fresh snapshot,
-- so after the dependents are locked it sees every concurrently committed completion (two
-- dependencies completing at once cannot both miss each other and leave a dependent blocked).
CREATE FUNCTION unblock_dependents(p_task_id bigint, p_now bigint, p_actor text) RETURNS bigint[]
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
  AS $$
DECLARE
  unblocked bigint[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM task_dependencies x WHERE x.depends_on_id = p_task_id) THEN
    RETURN '{}';
  END IF;
  PERFORM 1 FROM tasks t
    WHERE t.id IN (SELECT x.task_id FROM task_dependencies x WHERE x.depends_on_id = p_task_id)
      AND t.status = 'blocked'
    ORDER BY t.id
    FOR UPDATE;
  WITH u AS (
    UPDATE tasks d SET status = 'pending', updated_at = p_now
    WHERE d.status = 'blocked'
      AND d.id IN (SELECT x.task_id FROM task_dependencies x WHERE x.depends_on_id = p_task_id)
      AND NOT EXISTS (
        SELECT 1 FROM task_dependencies x JOIN tasks xt ON xt.id = x.depends_on_id
        WHERE x.task_id = d.id AND xt.id <> p_task_id AND xt.status <> 'completed')
    RETURNING d.id, d.workflow_id
  ), e AS (
    INSERT INTO events (at, kind, task_id, workflow_id, actor, from_status, to_status, message)
    SELECT p_now, 'task.unblocked', u.id, u.workflow_id, p_actor, 'blocked', 'pending',
           'all dependencies completed'
    FROM u ORDER BY u.id
  )
  SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}') INTO unblocked FROM u;
  RETURN unblocked;
END
$$;
