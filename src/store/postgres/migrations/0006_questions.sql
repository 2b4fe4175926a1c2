-- cns on PostgreSQL, version 6: questions. An agent holding a task may ask a question; the task
-- waits in the new status `waiting_input` (no lease) until someone answers, then returns to pending,
-- kept for the agent that asked for a while (prefer_agent_id, prefer_until). The status CHECK and the
-- transition trigger list src/core/status.ts (test/state-machine.test.ts reads them back).

ALTER TABLE tasks DROP CONSTRAINT tasks_status_valid;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_valid CHECK (status IN
  ('blocked', 'pending', 'assigned', 'in_progress', 'waiting_input', 'awaiting_review', 'completed', 'failed',
   'cancelled'));

ALTER TABLE tasks ADD COLUMN prefer_agent_id bigint, ADD COLUMN prefer_until bigint;
-- A preference is an agent and a time, on a pending task only.
ALTER TABLE tasks ADD CONSTRAINT tasks_preference_valid CHECK (
  (prefer_agent_id IS NULL) = (prefer_until IS NULL) AND (prefer_agent_id IS NULL OR status = 'pending'));
-- The few pending tasks kept for an agent: its claim looks here before the queue.
CREATE INDEX tasks_preferred_idx ON tasks (prefer_agent_id, priority DESC, id) WHERE prefer_agent_id IS NOT NULL;

ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_valid;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_valid CHECK (outcome IN
  ('running', 'completed', 'submitted_for_review', 'failed', 'released', 'expired', 'cancelled', 'asked'));

CREATE OR REPLACE FUNCTION check_task_transition() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NOT (CASE OLD.status
      WHEN 'blocked'         THEN NEW.status IN ('pending', 'cancelled')
      WHEN 'pending'         THEN NEW.status IN ('assigned', 'in_progress', 'cancelled')
      WHEN 'assigned'        THEN NEW.status IN ('in_progress', 'cancelled')
      WHEN 'in_progress'     THEN NEW.status IN ('pending', 'waiting_input', 'awaiting_review', 'completed', 'failed',
                                                 'cancelled')
      WHEN 'waiting_input'   THEN NEW.status IN ('pending', 'cancelled')
      WHEN 'awaiting_review' THEN NEW.status IN ('pending', 'completed', 'failed', 'cancelled')
      WHEN 'completed'       THEN false
      WHEN 'failed'          THEN NEW.status IN ('blocked', 'pending')
      WHEN 'cancelled'       THEN NEW.status IN ('blocked', 'pending')
      ELSE false
    END) THEN
    RAISE EXCEPTION 'illegal task status transition % -> % (task %)', OLD.status, NEW.status, OLD.id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END
$$;

DROP TRIGGER tasks_status_transition ON tasks;
CREATE TRIGGER tasks_status_transition
  BEFORE UPDATE OF status ON tasks
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status AND strpos(
    '|blocked>pending|blocked>cancelled'
    '|pending>assigned|pending>in_progress|pending>cancelled'
    '|assigned>in_progress|assigned>cancelled'
    '|in_progress>pending|in_progress>waiting_input|in_progress>awaiting_review|in_progress>completed'
    '|in_progress>failed|in_progress>cancelled'
    '|waiting_input>pending|waiting_input>cancelled'
    '|awaiting_review>pending|awaiting_review>completed|awaiting_review>failed|awaiting_review>cancelled'
    '|failed>blocked|failed>pending'
    '|cancelled>blocked|cancelled>pending|',
    '|' || OLD.status || '>' || NEW.status || '|') = 0)
  EXECUTE FUNCTION check_task_transition();

-- Questions, oldest first per task; at most one open per task (its task is waiting_input).
CREATE TABLE questions (
  id                    bigserial PRIMARY KEY,
  task_id               bigint NOT NULL REFERENCES tasks (id),
  workflow_id           bigint,
  attempt_seq           integer NOT NULL,
  asked_by_agent_id     bigint NOT NULL,
  asked_by_name         text   NOT NULL,
  -- Whom it is for: 'supervisor' or a named person or role.
  for_whom              text   NOT NULL,
  text                  text   NOT NULL,
  choices               jsonb,
  context               jsonb,
  asked_at              bigint NOT NULL,
  status                text   NOT NULL,
  answer                text,
  answered_by           text,
  answered_by_agent_id  bigint,
  answered_at           bigint,
  closed_reason         text,
  CONSTRAINT questions_status_valid CHECK (status IN ('open', 'answered', 'closed')),
  CONSTRAINT questions_answered_iff_answer CHECK (
    (status = 'answered') = (answer IS NOT NULL AND answered_by IS NOT NULL AND answered_at IS NOT NULL))
);
CREATE UNIQUE INDEX questions_one_open_idx ON questions (task_id) WHERE status = 'open';
CREATE INDEX questions_task_idx ON questions (task_id);
