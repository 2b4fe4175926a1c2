-- cns on PostgreSQL, version 5: the lifecycle is decided above the store (src/coordinator/
-- lifecycle.ts); the schema keeps only its guards. Every cns process of a database must run this
-- version or later (the previous version's functions are gone).
--
-- attempts.lease_token: the token each claim minted, so that a refused write can say whether its
-- token was a former holder's (and how that attempt ended) or one never given out.
ALTER TABLE attempts ADD COLUMN lease_token text;

-- The backoff is decided in core/policy.ts alone now.
DROP FUNCTION retry_delay_ms(integer, bigint, bigint);

-- The transitions of src/core/status.ts (MOVES): pending → failed, pending → blocked,
-- assigned → pending and completed → pending/blocked are gone (no operation makes them).
-- test/state-machine.test.ts reads the trigger's WHEN clause and this function back and compares
-- them with status.ts.
CREATE OR REPLACE FUNCTION check_task_transition() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  IF NOT (CASE OLD.status
      WHEN 'blocked'         THEN NEW.status IN ('pending', 'cancelled')
      WHEN 'pending'         THEN NEW.status IN ('assigned', 'in_progress', 'cancelled')
      WHEN 'assigned'        THEN NEW.status IN ('in_progress', 'cancelled')
      WHEN 'in_progress'     THEN NEW.status IN ('pending', 'awaiting_review', 'completed', 'failed', 'cancelled')
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
    '|in_progress>pending|in_progress>awaiting_review|in_progress>completed|in_progress>failed'
    '|in_progress>cancelled'
    '|awaiting_review>pending|awaiting_review>completed|awaiting_review>failed|awaiting_review>cancelled'
    '|failed>blocked|failed>pending'
    '|cancelled>blocked|cancelled>pending|',
    '|' || OLD.status || '>' || NEW.status || '|') = 0)
  EXECUTE FUNCTION check_task_transition();

-- Dependents of the tasks just completed (p_task_ids) whose dependencies are now all completed
-- become pending, each with the event p_events[i] (an EventSpec of src/store/store.ts, its actor
-- resolved) of the completion that freed it. The tasks in p_task_ids count as completed whatever
-- this function's queries see of the calling statement's own updates: two dependencies of one task
-- completed in the same batch must never each wait for the other. A volatile function: each
-- statement below takes a fresh snapshot, so after the dependents are locked it sees every
-- concurrently committed completion (two dependencies completing in two transactions at once cannot
-- both miss each other and leave a dependent blocked).
DROP FUNCTION unblock_dependents(bigint, bigint, text);
DROP FUNCTION unblock_dependents(bigint[], text[], bigint);
CREATE FUNCTION unblock_dependents(p_task_ids bigint[], p_events jsonb[], p_now bigint) RETURNS bigint[]
  LANGUAGE plpgsql VOLATILE
  SET search_path FROM CURRENT
  AS $$
DECLARE
  unblocked bigint[] := '{}';
  freed bigint[];
  i integer;
BEGIN
  IF cardinality(p_task_ids) = 0
     OR NOT EXISTS (SELECT 1 FROM task_dependencies x WHERE x.depends_on_id = ANY (p_task_ids)) THEN
    RETURN unblocked;
  END IF;
  PERFORM 1 FROM tasks t
    WHERE t.id IN (SELECT x.task_id FROM task_dependencies x WHERE x.depends_on_id = ANY (p_task_ids))
      AND t.status = 'blocked'
    ORDER BY t.id
    FOR UPDATE;
  FOR i IN 1 .. cardinality(p_task_ids) LOOP
    WITH u AS (
      UPDATE tasks d SET status = 'pending', updated_at = p_now
      WHERE d.status = 'blocked'
        AND d.id IN (SELECT x.task_id FROM task_dependencies x WHERE x.depends_on_id = p_task_ids[i])
        AND NOT EXISTS (
          SELECT 1 FROM task_dependencies x JOIN tasks xt ON xt.id = x.depends_on_id
          WHERE x.task_id = d.id AND xt.id <> ALL (p_task_ids) AND xt.status <> 'completed')
      RETURNING d.id, d.workflow_id
    ), e AS (
      INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status, message, data)
      SELECT p_now, p_events[i]->>'kind', u.id, u.workflow_id, (p_events[i]->>'agentId')::bigint,
             p_events[i]->>'actor', 'blocked', 'pending', p_events[i]->>'message',
             nullif(p_events[i]->'data', 'null'::jsonb)
      FROM u ORDER BY u.id
    )
    SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}') INTO freed FROM u;
    unblocked := unblocked || freed;
  END LOOP;
  RETURN unblocked;
END
$$;
