-- cns on PostgreSQL, version 3: completions arrive in batches (statement-batcher.ts), so the
-- unblocking of dependents takes every task the statement completed at once.
--
-- Dependents of the tasks just completed (p_task_ids, with p_actors: who completed each) whose
-- dependencies are now all completed become pending (event task.unblocked, by the completer whose
-- task freed them). The tasks in p_task_ids count as completed whatever this function's queries
-- see of the calling statement's own updates (that depends on the order in which PostgreSQL runs
-- the parts of that statement): two dependencies of one task completed in the same batch must
-- never each wait for the other. A volatile function: each
-- statement below takes a fresh snapshot, so after the dependents are locked it sees every
-- concurrently committed completion (two dependencies completing in two transactions at once
-- cannot both miss each other and leave a dependent blocked).

CREATE FUNCTION unblock_dependents(p_task_ids bigint[], p_actors text[], p_now bigint) RETURNS bigint[]
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
      INSERT INTO events (at, kind, task_id, workflow_id, actor, from_status, to_status, message)
      SELECT p_now, 'task.unblocked', u.id, u.workflow_id, p_actors[i], 'blocked', 'pending',
             'all dependencies completed'
      FROM u ORDER BY u.id
    )
    SELECT coalesce(array_agg(u.id ORDER BY u.id), '{}') INTO freed FROM u;
    unblocked := unblocked || freed;
  END LOOP;
  RETURN unblocked;
END
$$;

-- The one-task form of version 1, kept for processes of the previous version still running during
-- an upgrade.
CREATE OR REPLACE FUNCTION unblock_dependents(p_task_id bigint, p_now bigint, p_actor text) RETURNS bigint[]
  LANGUAGE sql VOLATILE
  SET search_path FROM CURRENT
  AS $$ SELECT unblock_dependents(ARRAY[p_task_id], ARRAY[p_actor], p_now) $$;
