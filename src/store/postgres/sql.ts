/**
 * The PostgreSQL statements of the hot paths, named and reviewed here. Every statement takes the
 * time as `$1` (bigint ms, or NULL for the database's clock: `coalesce($1, now_ms())`, constant
 * within a statement). Names resolve through the connection's search_path (the store's schema).
 *
 * Each write is one statement: data-modifying CTEs update the task, its attempt row and append the
 * event atomically, in one round trip. Claims and completions take arrays: the store sends the
 * concurrent calls of one process as one statement (statement-batcher.ts).
 */

/** The store's idea of now inside a statement. */
export const NOW = 'coalesce($1::bigint, now_ms())';

/**
 * Finds the running attempts of the tasks an `upd` CTE changed by index lookup: the ids as one
 * array (computed once) make an index condition on attempts, where a join alone lets the planner
 * read the whole running-attempt index and filter it.
 */
const RUNNING_OF_UPD = 'a.task_id = ANY (ARRAY(SELECT upd.id FROM upd))';

/** Clears the lease columns (in a SET list). */
const NO_LEASE =
  'lease_agent_id = NULL, lease_agent_name = NULL, lease_token = NULL, lease_expires_at = NULL, ' +
  'lease_session = NULL, lease_ms = NULL';

/**
 * The fence every agent write passes: the task is in progress under exactly this token. A lease
 * token exists only while the task is in progress (CHECK tasks_lease_iff_in_progress), so the token
 * alone says so. Naming the status here would let the planner read the partial in-progress indexes
 * instead of the primary key — a scan over every entry a claim ever added there (dead ones too,
 * until vacuum), which made each completion cost more as tasks went through.
 */
const FENCE = 't.id = $2 AND t.lease_token = $3';

/**
 * Claim, for a batch of agents of one type with the same capabilities (statement-batcher.ts): each
 * agent's assigned task first, else the best pending tasks they may take — one statement.
 * Request arrays (one element per agent, at most one request per agent): $2 agent ids, $3 agent
 * names, $4 fresh lease tokens, $5 lease ms; then $6 the agents' type, $7 their capabilities;
 * $8 the agents' sessions (the lease's owner).
 * Skips rows other claimers hold locked, so concurrent claims never wait on or return the same task.
 * The pending tasks are taken best first and handed out in request order; at most one per request
 * (LIMIT = the number of requests). Rows come back with `ord`, the 1-based request position.
 * A first claim (started_at still null) has no earlier attempts: no handoff to read.
 */
export const CLAIM = `
WITH req AS (
  SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $8::text[]) WITH ORDINALITY
    AS r(agent_id, agent_name, token, lease_ms, session, ord)
), assigned AS (
  SELECT r.ord, a.id, a.first
  FROM req r CROSS JOIN LATERAL (
    SELECT id, started_at IS NULL AS first FROM tasks
    WHERE status = 'assigned' AND assigned_to = r.agent_id
    ORDER BY priority DESC, id
    LIMIT 1 FOR UPDATE SKIP LOCKED) a
), need AS (
  SELECT r.ord, row_number() OVER (ORDER BY r.ord) AS k
  FROM req r WHERE r.ord NOT IN (SELECT ord FROM assigned)
), pending AS (
  SELECT p.id, p.first, row_number() OVER (ORDER BY p.priority DESC, p.id) AS k FROM (
    SELECT id, priority, started_at IS NULL AS first FROM tasks
    WHERE status = 'pending' AND type = $6 AND requires <@ $7::text[] AND run_after <= ${NOW}
    ORDER BY priority DESC, id
    LIMIT cardinality($2::bigint[]) FOR UPDATE SKIP LOCKED) p
), next AS (
  SELECT ord, id, 'assigned'::text AS from_status, first FROM assigned
  UNION ALL
  SELECT need.ord, pending.id, 'pending'::text, pending.first FROM need JOIN pending USING (k)
), claimed AS (
  UPDATE tasks t SET
    status = 'in_progress', attempts = t.attempts + 1, assigned_to = NULL,
    lease_agent_id = r.agent_id, lease_agent_name = r.agent_name, lease_token = r.token,
    lease_session = r.session, lease_ms = r.lease_ms,
    lease_expires_at = ${NOW} + r.lease_ms, started_at = coalesce(t.started_at, ${NOW}), updated_at = ${NOW}
  FROM next JOIN req r USING (ord)
  WHERE t.id = next.id
  RETURNING t.*, next.ord, next.from_status, next.first
), attempt AS (
  INSERT INTO attempts (task_id, seq, agent_id, agent_name, started_at)
  SELECT c.id, CASE WHEN c.first THEN 1 ELSE (SELECT count(*) FROM attempts a WHERE a.task_id = c.id) + 1 END,
         c.lease_agent_id, c.lease_agent_name, c.updated_at
  FROM claimed c
), event AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status, data)
  SELECT c.updated_at, 'task.claimed', c.id, c.workflow_id, c.lease_agent_id, c.lease_agent_name, c.from_status,
         'in_progress', jsonb_build_object('attempt', c.attempts, 'leaseExpiresAt', c.lease_expires_at)
  FROM claimed c ORDER BY c.ord
)
SELECT c.*,
  CASE WHEN cardinality(c.depends_on) = 0 THEN '[]'::jsonb ELSE (
    SELECT jsonb_agg(to_jsonb(d) ORDER BY d.id)
    FROM (SELECT id, ref, title, status, result, result_data FROM tasks WHERE id = ANY (c.depends_on)) d
  ) END AS deps,
  CASE WHEN c.first THEN '[]'::jsonb ELSE (
    SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.seq), '[]'::jsonb) FROM attempts a WHERE a.task_id = c.id
  ) END AS handoff
FROM claimed c`;

/**
 * Complete a batch (statement-batcher.ts). Request arrays: $2 task ids, $3 lease tokens, $4 results,
 * $5 result data (jsonb, NULL for none). Each task passes its own fence; rows come back with `ord`,
 * the 1-based request position, and a request without a row found its lease gone. Review tasks go
 * to awaiting_review; others complete, and then their dependents whose dependencies are all
 * completed become pending (unblock_dependents, once for the whole batch: it counts every task this
 * statement completed as completed, see 0003_batched_completion.sql); a batch whose tasks have no
 * dependents, the usual case, does not enter the function at all.
 */
export const COMPLETE = `
WITH req AS (
  SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::jsonb[]) WITH ORDINALITY
    AS r(id, token, result, data, ord)
), upd AS (
  UPDATE tasks t SET
    status = CASE WHEN t.review THEN 'awaiting_review' ELSE 'completed' END,
    result = r.result, result_data = r.data, error = NULL, completed_by = t.lease_agent_id, ${NO_LEASE},
    finished_at = CASE WHEN t.review THEN NULL ELSE ${NOW} END, updated_at = ${NOW}
  FROM req r WHERE t.id = r.id AND t.lease_token = r.token
  RETURNING t.*, r.ord
), att AS (
  UPDATE attempts a SET ended_at = upd.updated_at, result = upd.result,
    outcome = CASE WHEN upd.status = 'awaiting_review' THEN 'submitted_for_review' ELSE 'completed' END
  FROM upd WHERE a.task_id = upd.id AND a.outcome = 'running' AND ${RUNNING_OF_UPD}
  RETURNING a.task_id, a.agent_name
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status)
  SELECT upd.updated_at, CASE WHEN upd.status = 'awaiting_review' THEN 'task.submitted' ELSE 'task.completed' END,
         upd.id, upd.workflow_id, upd.completed_by, coalesce(att.agent_name, 'agent'), 'in_progress', upd.status
  FROM upd LEFT JOIN att ON att.task_id = upd.id
  ORDER BY upd.ord
  RETURNING task_id, actor, to_status
), unblocked AS (
  SELECT CASE WHEN EXISTS (SELECT 1 FROM task_dependencies x WHERE x.depends_on_id = ANY (ARRAY(SELECT upd.id FROM upd)))
    THEN unblock_dependents(
      coalesce(array_agg(ev.task_id ORDER BY ev.task_id) FILTER (WHERE ev.to_status = 'completed'), '{}'),
      coalesce(array_agg(ev.actor ORDER BY ev.task_id) FILTER (WHERE ev.to_status = 'completed'), '{}'),
      ${NOW})
  END AS ids
  FROM ev
)
SELECT upd.* FROM upd, unblocked`;

/**
 * Create a batch of independent tasks in one statement (no workflow to create, no dependencies,
 * no idempotency keys: nothing to look up first). $2 the tasks as a JSON array in batch order, each
 * with `ord`, its 1-based position; $3 the actor, $4 the workflow (or NULL). Ids are drawn in
 * array order; rows come back with their `ord`. The NOTIFY of the insert trigger wakes waiting agents.
 */
export const INSERT_PLAIN_TASKS = `
WITH x AS (
  SELECT nextval('tasks_id_seq') AS id, x.*
  FROM jsonb_to_recordset($2::jsonb) AS x(
    ref text, type text, requires text[], title text, spec text, input jsonb, priority integer,
    run_after bigint, max_attempts integer, review boolean, max_review_rounds integer, metadata jsonb, ord bigint)
), ins AS (
  INSERT INTO tasks (id, workflow_id, ref, type, requires, title, spec, input, priority, run_after, status,
    max_attempts, review, max_review_rounds, metadata, created_by, created_at, updated_at)
  SELECT x.id, $4::bigint, x.ref, x.type, x.requires, x.title, x.spec, x.input, x.priority,
    coalesce(x.run_after, ${NOW}), 'pending', x.max_attempts, x.review, x.max_review_rounds, x.metadata,
    $3::text, ${NOW}, ${NOW}
  FROM x ORDER BY x.ord
  RETURNING *
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, actor, to_status, message)
  SELECT ins.created_at, 'task.created', ins.id, ins.workflow_id, $3::text, ins.status, ins.title
  FROM ins ORDER BY ins.id
)
SELECT ins.*, x.ord FROM ins JOIN x ON x.id = ins.id ORDER BY x.ord`;

/**
 * How long until the earliest pending task of type $2 scheduled for later becomes claimable (ms),
 * or NULL. Reads the pending-claim index (type, then any order of run_after among few rows).
 */
export const NEXT_SCHEDULED = `
SELECT min(run_after) - ${NOW} AS delay FROM tasks
WHERE status = 'pending' AND type = $2 AND run_after > ${NOW}`;

/** Renew one lease by its own length: $2 task, $3 token, $4 the default length (a lease without one). */
export const HEARTBEAT_TASK = `
UPDATE tasks t SET lease_expires_at = ${NOW} + coalesce(t.lease_ms, $4::bigint)
WHERE ${FENCE}
RETURNING t.*`;

/**
 * Progress: $2 task, $3 token; ($4 has note, $5 note), ($6 has percent, $7 percent),
 * ($8 has checkpoint, $9 checkpoint jsonb); $10 the default lease length (the lease's own length
 * is used when it has one). Fields not given keep their value.
 */
export const PROGRESS = `
WITH upd AS (
  UPDATE tasks t SET
    progress_note = CASE WHEN $4::boolean THEN $5::text ELSE t.progress_note END,
    progress_percent = CASE WHEN $6::boolean THEN $7::float8 ELSE t.progress_percent END,
    progress_checkpoint = CASE WHEN $8::boolean THEN $9::jsonb ELSE t.progress_checkpoint END,
    progress_at = ${NOW}, updated_at = ${NOW}, lease_expires_at = ${NOW} + coalesce(t.lease_ms, $10::bigint)
  WHERE ${FENCE}
  RETURNING t.*
), att AS (
  UPDATE attempts a SET
    note = CASE WHEN $4::boolean THEN $5::text ELSE a.note END,
    percent = CASE WHEN $6::boolean THEN $7::float8 ELSE a.percent END,
    checkpoint = CASE WHEN $8::boolean THEN $9::jsonb ELSE a.checkpoint END
  FROM upd WHERE a.task_id = upd.id AND a.outcome = 'running' AND ${RUNNING_OF_UPD}
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, message, data)
  SELECT upd.updated_at, 'task.progress', upd.id, upd.workflow_id, upd.lease_agent_id, upd.lease_agent_name,
         CASE WHEN $4::boolean THEN $5::text END,
         jsonb_strip_nulls(jsonb_build_object('percent', upd.progress_percent))
  FROM upd
)
SELECT upd.* FROM upd`;

/**
 * Fail: $2 task, $3 token, $4 error, $5 retryable, $6 retry base ms, $7 retry max ms.
 * Retryable with attempts left: pending after the backoff; otherwise failed.
 */
export const FAIL = `
WITH upd AS (
  UPDATE tasks t SET
    status = CASE WHEN $5::boolean AND t.attempts < t.max_attempts THEN 'pending' ELSE 'failed' END,
    run_after = CASE WHEN $5::boolean AND t.attempts < t.max_attempts
                     THEN ${NOW} + retry_delay_ms(t.attempts, $6::bigint, $7::bigint) ELSE t.run_after END,
    finished_at = CASE WHEN $5::boolean AND t.attempts < t.max_attempts THEN NULL ELSE ${NOW} END,
    error = $4::text, ${NO_LEASE}, updated_at = ${NOW}
  WHERE ${FENCE}
  RETURNING t.*
), att AS (
  UPDATE attempts a SET ended_at = upd.updated_at, outcome = 'failed', error = $4::text
  FROM upd WHERE a.task_id = upd.id AND a.outcome = 'running' AND ${RUNNING_OF_UPD}
  RETURNING a.task_id, a.agent_id, a.agent_name
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status, message, data)
  SELECT upd.updated_at, 'task.failed', upd.id, upd.workflow_id, att.agent_id, coalesce(att.agent_name, 'agent'),
         'in_progress', upd.status, $4::text,
         jsonb_build_object('retryable', $5::boolean, 'attempts', upd.attempts, 'maxAttempts', upd.max_attempts,
                            'runAfter', CASE WHEN upd.status = 'pending' THEN upd.run_after END)
  FROM upd LEFT JOIN att ON att.task_id = upd.id
)
SELECT upd.* FROM upd`;

/** Release: $2 task, $3 token, $4 reason. Back to pending, attempt given back, no backoff. */
export const RELEASE = `
WITH upd AS (
  UPDATE tasks t SET status = 'pending', attempts = greatest(t.attempts - 1, 0), ${NO_LEASE}, updated_at = ${NOW}
  WHERE ${FENCE}
  RETURNING t.*
), att AS (
  UPDATE attempts a SET ended_at = upd.updated_at, outcome = 'released'
  FROM upd WHERE a.task_id = upd.id AND a.outcome = 'running' AND ${RUNNING_OF_UPD}
  RETURNING a.task_id, a.agent_id, a.agent_name
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status, message)
  SELECT upd.updated_at, 'task.released', upd.id, upd.workflow_id, att.agent_id, coalesce(att.agent_name, 'agent'),
         'in_progress', 'pending', $4::text
  FROM upd LEFT JOIN att ON att.task_id = upd.id
)
SELECT upd.* FROM upd`;

/**
 * The tasks a session holds ($1 agent, $2 session; no time), as their claims handed them out: each row with
 * `deps` (the dependencies' results) and `handoff` (the attempts before the running one).
 */
export const HELD_BY_SESSION = `
SELECT t.*,
  CASE WHEN cardinality(t.depends_on) = 0 THEN '[]'::jsonb ELSE (
    SELECT jsonb_agg(to_jsonb(d) ORDER BY d.id)
    FROM (SELECT id, ref, title, status, result, result_data FROM tasks WHERE id = ANY (t.depends_on)) d
  ) END AS deps,
  (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.seq), '[]'::jsonb)
   FROM attempts a WHERE a.task_id = t.id AND a.outcome <> 'running') AS handoff
FROM tasks t
WHERE t.status = 'in_progress' AND t.lease_agent_id = $1 AND t.lease_session = $2::text
ORDER BY t.id`;

/** Why a fenced write found no row: $1 task. */
export const LEASE_STATE = `
SELECT t.status,
  (SELECT a.outcome FROM attempts a WHERE a.task_id = t.id ORDER BY a.seq DESC LIMIT 1) AS last_outcome
FROM tasks t WHERE t.id = $1`;

/**
 * The reaper's sweep, one statement: $2 retry base ms, $3 retry max ms, $4 offline threshold ms.
 * Tasks whose lease expired go back to pending after the backoff (or fail, attempts exhausted);
 * rows another transaction holds are skipped (a completion in flight wins; the next sweep sees
 * the rest). Agents silent past the threshold are marked offline, once each. Returns one row per
 * change: `task` (the task row as JSON) or `agent` (the agent row as JSON, with `now` and `held`).
 */
export const REAP = `
WITH sel AS (
  SELECT id FROM tasks
  WHERE status = 'in_progress' AND lease_expires_at <= ${NOW}
  ORDER BY lease_expires_at, id
  FOR UPDATE SKIP LOCKED
), upd AS (
  UPDATE tasks t SET
    status = CASE WHEN t.attempts < t.max_attempts THEN 'pending' ELSE 'failed' END,
    run_after = CASE WHEN t.attempts < t.max_attempts
                     THEN ${NOW} + retry_delay_ms(t.attempts, $2::bigint, $3::bigint) ELSE t.run_after END,
    finished_at = CASE WHEN t.attempts < t.max_attempts THEN NULL ELSE ${NOW} END,
    error = CASE WHEN t.attempts < t.max_attempts THEN t.error
                 ELSE 'the lease of ' || t.lease_agent_name || ' expired and the task has no attempts left' END,
    ${NO_LEASE}, updated_at = ${NOW}
  FROM sel WHERE t.id = sel.id
  RETURNING t.*
), att AS (
  UPDATE attempts a SET ended_at = upd.updated_at, outcome = 'expired', error = 'lease expired'
  FROM upd WHERE a.task_id = upd.id AND a.outcome = 'running' AND ${RUNNING_OF_UPD}
  RETURNING a.task_id, a.agent_id, a.agent_name
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status, message, data)
  SELECT upd.updated_at, 'task.expired', upd.id, upd.workflow_id, att.agent_id, 'reaper', 'in_progress', upd.status,
         'the lease of ' || coalesce(att.agent_name, 'its holder') || ' expired',
         jsonb_build_object('attempts', upd.attempts, 'maxAttempts', upd.max_attempts)
  FROM upd LEFT JOIN att ON att.task_id = upd.id
  ORDER BY upd.id
), off AS (
  UPDATE agents SET offline_marked_at = ${NOW}
  WHERE offline_marked_at IS NULL AND deregistered_at IS NULL AND last_heartbeat_at < ${NOW} - $4::bigint
  RETURNING *
), off_ev AS (
  INSERT INTO events (at, kind, agent_id, actor, message)
  SELECT off.offline_marked_at, 'agent.offline', off.id, 'reaper',
         'no heartbeat from ' || off.name || ' for more than ' || ($4::bigint)::text || ' ms'
  FROM off ORDER BY off.id
)
SELECT 'task' AS kind, upd.id, to_jsonb(upd) AS row FROM upd
UNION ALL
SELECT 'agent', off.id, to_jsonb(off) || jsonb_build_object('now', ${NOW},
  'held', array(SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = off.id ORDER BY t.id))
FROM off
ORDER BY 1 DESC, 2`;

/** An agent with its held tasks and the store's now. */
export const AGENT_SELECT = `
SELECT a.*, ${NOW} AS now,
  array(SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = a.id ORDER BY t.id) AS held
FROM agents a`;

/**
 * Register (or re-register by name): $2 name, $3 type, $4 capabilities, $5 host, $6 pid,
 * $7 client info (jsonb), $8 the new session. Keeps the id and registeredAt of an existing agent.
 */
export const REGISTER_AGENT = `
WITH a AS (
  INSERT INTO agents AS ag (name, type, capabilities, host, pid, client_info, registered_at, last_heartbeat_at,
    session)
  VALUES ($2, $3, $4::text[], $5, $6, $7::jsonb, ${NOW}, ${NOW}, $8)
  ON CONFLICT (name) DO UPDATE SET
    type = EXCLUDED.type, capabilities = EXCLUDED.capabilities, host = EXCLUDED.host, pid = EXCLUDED.pid,
    client_info = EXCLUDED.client_info, last_heartbeat_at = EXCLUDED.last_heartbeat_at,
    session = EXCLUDED.session, deregistered_at = NULL, offline_marked_at = NULL
  RETURNING ag.*
), ev AS (
  INSERT INTO events (at, kind, agent_id, actor, message, data)
  SELECT a.last_heartbeat_at, 'agent.registered', a.id, a.name, a.name || ' (' || a.type || ') registered',
         jsonb_build_object('type', a.type, 'capabilities', to_jsonb(a.capabilities), 'host', a.host, 'pid', a.pid)
  FROM a
)
SELECT a.*, ${NOW} AS now,
  array(SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = a.id ORDER BY t.id) AS held
FROM a`;

/**
 * Agent heartbeat: $2 agent, $3 the default lease length (a lease without its own), $4 the session.
 * Renews the leases this session holds, each by its own length; clears an offline mark. Returns the
 * agent with `held` (every task it holds) and `renewed` (this session's, renewed now).
 */
export const HEARTBEAT_AGENT = `
WITH a AS (
  UPDATE agents SET last_heartbeat_at = ${NOW}, offline_marked_at = NULL WHERE id = $2 RETURNING *
), r AS (
  UPDATE tasks t SET lease_expires_at = ${NOW} + coalesce(t.lease_ms, $3::bigint)
  FROM a WHERE t.status = 'in_progress' AND t.lease_agent_id = a.id AND t.lease_session = $4::text
  RETURNING t.id
)
SELECT a.*, ${NOW} AS now,
  array(SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = a.id ORDER BY t.id) AS held,
  array(SELECT r.id FROM r ORDER BY r.id) AS renewed
FROM a`;

/**
 * A session ends: $2 agent, $3 actor, $4 the session (NULL: every session of the agent). Releases
 * what the session holds (attempt given back); marks the agent deregistered only when the session
 * is its current one (a newer run under the same name stays registered).
 */
export const DEREGISTER_AGENT = `
WITH cur AS (
  SELECT id FROM agents WHERE id = $2
), a AS (
  UPDATE agents SET deregistered_at = ${NOW} WHERE id = $2 AND ($4::text IS NULL OR session = $4::text) RETURNING *
), rel AS (
  UPDATE tasks t SET status = 'pending', attempts = greatest(t.attempts - 1, 0), ${NO_LEASE}, updated_at = ${NOW}
  FROM cur WHERE t.status = 'in_progress' AND t.lease_agent_id = cur.id
    AND ($4::text IS NULL OR t.lease_session = $4::text)
  RETURNING t.id, t.workflow_id, t.updated_at
), att AS (
  UPDATE attempts x SET ended_at = rel.updated_at, outcome = 'released'
  FROM rel WHERE x.task_id = rel.id AND x.outcome = 'running'
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, from_status, to_status, message)
  SELECT e.at, e.kind, e.task_id, e.workflow_id, e.agent_id, $3::text, e.from_status, e.to_status, e.message
  FROM (
    SELECT rel.updated_at AS at, 'task.released' AS kind, rel.id AS task_id, rel.workflow_id, $2::bigint AS agent_id,
           'in_progress' AS from_status, 'pending' AS to_status, 'the holder deregistered' AS message, 0 AS ord
    FROM rel
    UNION ALL
    SELECT a.deregistered_at, 'agent.deregistered', NULL, NULL, a.id, NULL, NULL, a.name || ' deregistered', 1
    FROM a
  ) e
  ORDER BY e.ord, e.task_id
)
SELECT (SELECT count(*) FROM cur) AS found, array(SELECT rel.id FROM rel ORDER BY rel.id) AS released`;
