/**
 * The PostgreSQL statements of the hot paths, named and reviewed here. Every statement takes the
 * time as `$1` (bigint ms, or NULL for the database's clock: `coalesce($1, now_ms())`, constant
 * within a statement). Names resolve through the connection's search_path (the store's schema).
 *
 * Each write is one statement: data-modifying CTEs update the task, its attempt row and append the
 * events atomically, in one round trip. Claims and decided changes take arrays: the store sends the
 * concurrent calls of one process as one statement (statement-batcher.ts). What a change does is
 * decided above the store (src/coordinator/lifecycle.ts); events come as EventSpec JSON
 * (src/store/store.ts) and are placed here.
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
 * The columns (agent_id, actor, message, data) of an event from an EventSpec as jsonb (`spec`): a
 * null actor means the lease holder (`holderId`, `holderName`); a null agent id is the holder's
 * for such an event, else the agent the write is about (`agentId`: an agent event's own agent).
 */
export function specColumns(spec: string, holderId: string, holderName: string, agentId = 'NULL'): string {
  return `coalesce((${spec}->>'agentId')::bigint,
                  CASE WHEN ${spec}->>'actor' IS NULL THEN (${holderId})::bigint ELSE (${agentId})::bigint END),
         coalesce(${spec}->>'actor', (${holderName})::text, 'agent'), ${spec}->>'message',
         nullif(${spec}->'data', 'null'::jsonb)`;
}

/**
 * Claim, for a batch of agents of one type with the same capabilities (statement-batcher.ts): each
 * agent's assigned task first, else the best pending tasks they may take — one statement.
 * Request arrays (one element per agent, at most one request per agent): $2 agent ids, $3 agent
 * names, $4 fresh lease tokens, $5 lease ms; then $6 the agents' type, $7 their capabilities;
 * $8 the agents' sessions (the lease's owner), $9 the claim events (EventSpec jsonb) in request order.
 * Skips rows other claimers hold locked, so concurrent claims never wait on or return the same task.
 * The pending tasks are taken best first and handed out in request order; at most one per request
 * (LIMIT = the number of requests). Rows come back with `ord`, the 1-based request position.
 * A first claim (started_at still null) has no earlier attempts: no handoff to read.
 */
export const CLAIM = `
WITH req AS (
  SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $8::text[], $9::jsonb[])
    WITH ORDINALITY AS r(agent_id, agent_name, token, lease_ms, session, event, ord)
), assigned AS (
  SELECT r.ord, a.id, a.first
  FROM req r CROSS JOIN LATERAL (
    SELECT id, started_at IS NULL AS first FROM tasks
    WHERE status = 'assigned' AND assigned_to = r.agent_id
    ORDER BY priority DESC, id
    LIMIT 1 FOR UPDATE SKIP LOCKED) a
), preferred AS (
  -- A pending task kept for the agent (it asked a question, now answered) comes next.
  SELECT r.ord, p.id, p.first
  FROM req r CROSS JOIN LATERAL (
    SELECT id, started_at IS NULL AS first FROM tasks
    WHERE prefer_agent_id = r.agent_id AND status = 'pending' AND prefer_until > ${NOW} AND run_after <= ${NOW}
      AND r.ord NOT IN (SELECT ord FROM assigned)
    ORDER BY priority DESC, id
    LIMIT 1 FOR UPDATE SKIP LOCKED) p
), need AS (
  SELECT r.ord, row_number() OVER (ORDER BY r.ord) AS k
  FROM req r WHERE r.ord NOT IN (SELECT ord FROM assigned) AND r.ord NOT IN (SELECT ord FROM preferred)
), pending AS (
  -- Then the queue: tasks kept for another agent wait until their time is up.
  SELECT p.id, p.first, row_number() OVER (ORDER BY p.priority DESC, p.id) AS k FROM (
    SELECT id, priority, started_at IS NULL AS first FROM tasks
    WHERE status = 'pending' AND type = $6 AND requires <@ $7::text[] AND run_after <= ${NOW}
      AND (prefer_agent_id IS NULL OR prefer_until <= ${NOW})
    ORDER BY priority DESC, id
    LIMIT cardinality($2::bigint[]) FOR UPDATE SKIP LOCKED) p
), next AS (
  SELECT ord, id, 'assigned'::text AS from_status, first FROM assigned
  UNION ALL
  SELECT ord, id, 'pending'::text, first FROM preferred
  UNION ALL
  SELECT need.ord, pending.id, 'pending'::text, pending.first FROM need JOIN pending USING (k)
), claimed AS (
  UPDATE tasks t SET
    status = 'in_progress', attempts = t.attempts + 1, assigned_to = NULL, prefer_agent_id = NULL, prefer_until = NULL,
    lease_agent_id = r.agent_id, lease_agent_name = r.agent_name, lease_token = r.token,
    lease_session = r.session, lease_ms = r.lease_ms,
    lease_expires_at = ${NOW} + r.lease_ms, started_at = coalesce(t.started_at, ${NOW}), updated_at = ${NOW}
  FROM next JOIN req r USING (ord)
  WHERE t.id = next.id
  RETURNING t.*, next.ord, next.from_status, next.first
), attempt AS (
  INSERT INTO attempts (task_id, seq, agent_id, agent_name, started_at, lease_token)
  SELECT c.id, CASE WHEN c.first THEN 1 ELSE (SELECT count(*) FROM attempts a WHERE a.task_id = c.id) + 1 END,
         c.lease_agent_id, c.lease_agent_name, c.updated_at, c.lease_token
  FROM claimed c
), event AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, message, data, from_status, to_status)
  SELECT c.updated_at, r.event->>'kind', c.id, c.workflow_id,
         ${specColumns('r.event', 'c.lease_agent_id', 'c.lease_agent_name')}, c.from_status, 'in_progress'
  FROM claimed c JOIN req r USING (ord) ORDER BY c.ord
)
SELECT c.*,
  CASE WHEN cardinality(c.depends_on) = 0 THEN '[]'::jsonb ELSE (
    SELECT jsonb_agg(to_jsonb(d) ORDER BY d.id)
    FROM (SELECT id, ref, title, status, result, result_data FROM tasks WHERE id = ANY (c.depends_on)) d
  ) END AS deps,
  CASE WHEN c.first THEN '[]'::jsonb ELSE (
    SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.seq), '[]'::jsonb) FROM attempts a WHERE a.task_id = c.id
  ) END AS handoff,
  CASE WHEN c.first THEN '[]'::jsonb ELSE (
    SELECT coalesce(jsonb_agg(to_jsonb(q) ORDER BY q.id), '[]'::jsonb) FROM questions q WHERE q.task_id = c.id
  ) END AS questions
FROM claimed c`;

/**
 * Write a batch of decided changes (TaskChange, src/store/store.ts; statement-batcher.ts for the
 * agents' completions, failures and releases; one call inside a transaction for the rest). $2 the
 * changes as a JSON array of flat records (PostgresStore.applyParams): `ord` (the 1-based request
 * position, which rows come back with), the task id, the status each
 * is decided from, the lease token (null: no lease guard), the new status, the attempts op ('keep',
 * 'give_back', 'reset'), the review-rounds op ('keep', 'increment', 'reset'), the run-after delay
 * (null keeps run_after), the result op ('keep', 'clear', 'set') with result and data, the error op
 * ('keep', 'set') with the error, the assignee, the agent the task is kept for and for how long
 * (null: no preference; every change clears one otherwise), the attempt's outcome (null: it stays open) with its
 * result and error, the events (EventSpec array) and the unblock event (EventSpec, or null). One
 * JSON document: the client serialises it natively, where arrays of text need escaping element by
 * element. Review feedback is written by FEEDBACK.
 */
export const APPLY = `
WITH req AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb)
    AS r(ord bigint, id bigint, from_status text, token text, to_status text, attempts_op text, rounds_op text,
         run_after_delay bigint, result_op text, result text, result_data jsonb, error_op text, error text,
         assigned_to bigint, prefer_agent_id bigint, prefer_for bigint, outcome text, attempt_result text,
         attempt_error text, events jsonb, unblock jsonb)
), upd AS (
  UPDATE tasks t SET
    status = r.to_status,
    attempts = CASE r.attempts_op WHEN 'give_back' THEN greatest(t.attempts - 1, 0) WHEN 'reset' THEN 0
               ELSE t.attempts END,
    review_rounds = CASE r.rounds_op WHEN 'increment' THEN t.review_rounds + 1 WHEN 'reset' THEN 0
                    ELSE t.review_rounds END,
    run_after = CASE WHEN r.run_after_delay IS NULL THEN t.run_after ELSE ${NOW} + r.run_after_delay END,
    result = CASE r.result_op WHEN 'set' THEN r.result WHEN 'clear' THEN NULL ELSE t.result END,
    result_data = CASE r.result_op WHEN 'set' THEN nullif(r.result_data, 'null'::jsonb) WHEN 'clear' THEN NULL
                  ELSE t.result_data END,
    completed_by = CASE r.result_op WHEN 'set' THEN t.lease_agent_id WHEN 'clear' THEN NULL ELSE t.completed_by END,
    error = CASE r.error_op WHEN 'set' THEN r.error ELSE t.error END,
    assigned_to = CASE WHEN r.to_status = 'assigned' THEN r.assigned_to END,
    prefer_agent_id = r.prefer_agent_id,
    prefer_until = CASE WHEN r.prefer_agent_id IS NULL THEN NULL ELSE ${NOW} + r.prefer_for END,
    finished_at = CASE WHEN r.to_status IN ('completed', 'failed', 'cancelled') THEN ${NOW} END,
    ${NO_LEASE}, updated_at = ${NOW}
  FROM req r
  WHERE t.id = r.id AND t.status = r.from_status AND (r.token IS NULL OR t.lease_token = r.token)
  RETURNING t.*, r.ord
), att AS (
  UPDATE attempts a SET ended_at = upd.updated_at, outcome = r.outcome,
    result = coalesce(r.attempt_result, a.result), error = coalesce(r.attempt_error, a.error)
  FROM upd JOIN req r USING (ord)
  WHERE a.task_id = upd.id AND a.outcome = 'running' AND r.outcome IS NOT NULL AND ${RUNNING_OF_UPD}
  RETURNING a.task_id, a.agent_id, a.agent_name
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, message, data, from_status, to_status)
  SELECT upd.updated_at, e.spec->>'kind', upd.id, upd.workflow_id,
         ${specColumns('e.spec', 'att.agent_id', 'att.agent_name')}, r.from_status, upd.status
  FROM upd JOIN req r USING (ord) LEFT JOIN att ON att.task_id = upd.id
  CROSS JOIN LATERAL jsonb_array_elements(r.events) WITH ORDINALITY AS e(spec, n)
  ORDER BY upd.ord, e.n
  RETURNING 1
), unblocked AS (
  -- Counting ev's rows first makes the changes' own events precede those of the tasks they unblock;
  -- only completed tasks that have dependents enter unblock_dependents (most have none).
  SELECT CASE WHEN (SELECT count(*) FROM ev) >= 0 AND count(*) > 0
    THEN unblock_dependents(
      array_agg(upd.id ORDER BY upd.id),
      array_agg(r.unblock || jsonb_build_object(
        'actor', coalesce(r.unblock->>'actor', att.agent_name, 'agent'),
        'agentId', CASE WHEN r.unblock->>'actor' IS NULL THEN coalesce((r.unblock->>'agentId')::bigint, att.agent_id)
                        ELSE (r.unblock->>'agentId')::bigint END) ORDER BY upd.id),
      ${NOW})
  END AS ids
  FROM upd JOIN req r USING (ord) LEFT JOIN att ON att.task_id = upd.id
  WHERE upd.status = 'completed' AND r.unblock IS NOT NULL
    AND EXISTS (SELECT 1 FROM task_dependencies x WHERE x.depends_on_id = upd.id)
)
SELECT upd.* FROM upd, unblocked`;

/**
 * Create a batch of independent tasks in one statement (no workflow to create, no dependencies,
 * no idempotency keys: nothing to look up first). $2 the tasks as a JSON array in batch order, each
 * with `ord`, its 1-based position, and `event`, its EventSpec; $3 the actor, $4 the workflow (or
 * NULL). Ids are drawn in array order; rows come back with their `ord`. The NOTIFY of the insert
 * trigger wakes waiting agents.
 */
export const INSERT_PLAIN_TASKS = `
WITH x AS (
  SELECT nextval('tasks_id_seq') AS id, x.*
  FROM jsonb_to_recordset($2::jsonb) AS x(
    ref text, type text, requires text[], title text, spec text, input jsonb, priority integer,
    run_after bigint, max_attempts integer, review boolean, max_review_rounds integer, metadata jsonb, ord bigint,
    event jsonb)
), ins AS (
  INSERT INTO tasks (id, workflow_id, ref, type, requires, title, spec, input, priority, run_after, status,
    max_attempts, review, max_review_rounds, metadata, created_by, created_at, updated_at)
  SELECT x.id, $4::bigint, x.ref, x.type, x.requires, x.title, x.spec, x.input, x.priority,
    coalesce(x.run_after, ${NOW}), 'pending', x.max_attempts, x.review, x.max_review_rounds, x.metadata,
    $3::text, ${NOW}, ${NOW}
  FROM x ORDER BY x.ord
  RETURNING *
), ev AS (
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, message, data, to_status)
  SELECT ins.created_at, x.event->>'kind', ins.id, ins.workflow_id, ${specColumns('x.event', 'NULL', 'NULL')},
         ins.status
  FROM ins JOIN x ON x.id = ins.id ORDER BY ins.id
)
SELECT ins.*, x.ord FROM ins JOIN x ON x.id = ins.id ORDER BY x.ord`;

/**
 * How long until the earliest pending task of type $2 scheduled for later becomes claimable (ms),
 * or NULL. Reads the pending-claim index (type, then any order of run_after among few rows).
 */
export const NEXT_SCHEDULED = `
SELECT min(greatest(run_after, coalesce(prefer_until, 0))) - ${NOW} AS delay FROM tasks
WHERE status = 'pending' AND type = $2 AND greatest(run_after, coalesce(prefer_until, 0)) > ${NOW}`;

/**
 * The task a claim by this agent would take now, without taking it (`cns wait`): $2 agent id, $3 its
 * type, $4 its capabilities. Same order as CLAIM: assigned, then kept for it, then the queue.
 */
export const PEEK_CLAIMABLE = `
SELECT * FROM tasks WHERE id = coalesce(
  (SELECT id FROM tasks WHERE status = 'assigned' AND assigned_to = $2 ORDER BY priority DESC, id LIMIT 1),
  (SELECT id FROM tasks WHERE prefer_agent_id = $2 AND status = 'pending' AND prefer_until > ${NOW}
     AND run_after <= ${NOW} ORDER BY priority DESC, id LIMIT 1),
  (SELECT id FROM tasks WHERE status = 'pending' AND type = $3 AND requires <@ $4::text[] AND run_after <= ${NOW}
     AND (prefer_agent_id IS NULL OR prefer_until <= ${NOW}) ORDER BY priority DESC, id LIMIT 1))`;

/** Renew one lease by its own length: $2 task, $3 token, $4 the default length (a lease without one). */
export const HEARTBEAT_TASK = `
UPDATE tasks t SET lease_expires_at = ${NOW} + coalesce(t.lease_ms, $4::bigint)
WHERE ${FENCE}
RETURNING t.*`;

/**
 * Progress: $2 task, $3 token; ($4 has note, $5 note), ($6 has percent, $7 percent),
 * ($8 has checkpoint, $9 checkpoint jsonb); $10 the default lease length (the lease's own length
 * is used when it has one); $11 the event (EventSpec jsonb). Fields not given keep their value.
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
  INSERT INTO events (at, kind, task_id, workflow_id, agent_id, actor, message, data, from_status, to_status)
  SELECT upd.updated_at, $11::jsonb->>'kind', upd.id, upd.workflow_id,
         ${specColumns('$11::jsonb', 'upd.lease_agent_id', 'upd.lease_agent_name')}, upd.status, upd.status
  FROM upd
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
   FROM attempts a WHERE a.task_id = t.id AND a.outcome <> 'running') AS handoff,
  (SELECT coalesce(jsonb_agg(to_jsonb(q) ORDER BY q.id), '[]'::jsonb)
   FROM questions q WHERE q.task_id = t.id) AS questions
FROM tasks t
WHERE t.status = 'in_progress' AND t.lease_agent_id = $1 AND t.lease_session = $2::text
ORDER BY t.id`;

/** Why a fenced write found no row: $1 task. */
export const LEASE_STATE = `
SELECT t.status,
  (SELECT a.outcome FROM attempts a WHERE a.task_id = t.id AND a.lease_token = $2) AS token_outcome
FROM tasks t WHERE t.id = $1`;

/**
 * Review feedback on the latest attempt of each task (where the next claimant reads it): $1 task
 * ids, $2 feedback; no time. Kept out of APPLY: there, its correlated sub-query cost every
 * completion about 0.1 ms.
 */
export const FEEDBACK = `
UPDATE attempts a SET feedback = f.feedback
FROM unnest($1::bigint[], $2::text[]) AS f(task_id, feedback)
WHERE a.task_id = f.task_id AND a.seq = (SELECT max(x.seq) FROM attempts x WHERE x.task_id = f.task_id)`;

/**
 * A new open question ($2 task, $3/$4 the asking agent's id and name, $5 for whom, $6 text, $7 choices
 * jsonb, $8 context jsonb), asked by the attempt that just ended (the task's last).
 */
export const ASK_QUESTION = `
INSERT INTO questions (task_id, workflow_id, attempt_seq, asked_by_agent_id, asked_by_name, for_whom, text,
  choices, context, asked_at, status)
SELECT t.id, t.workflow_id, (SELECT max(a.seq) FROM attempts a WHERE a.task_id = t.id), $3, $4, $5, $6,
  $7::jsonb, $8::jsonb, ${NOW}, 'open'
FROM tasks t WHERE t.id = $2`;

/** The answer to an open question: $2 question, $3 answer, $4/$5 who answered (name, agent id). */
export const ANSWER_QUESTION = `
UPDATE questions SET status = 'answered', answer = $3, answered_by = $4, answered_by_agent_id = $5,
  answered_at = ${NOW}
WHERE id = $2 AND status = 'open'`;

/** Whether any lease has expired ($1 now): the reaper's cheap look before it locks anything. */
export const ANY_EXPIRED = `
SELECT EXISTS (SELECT 1 FROM tasks WHERE status = 'in_progress' AND lease_expires_at <= ${NOW}) AS any`;

/**
 * Agents silent for longer than $2 ms are marked offline, once each (a heartbeat or a registration
 * clears the mark), with the event $3 (EventSpec jsonb) each.
 */
export const MARK_OFFLINE = `
WITH off AS (
  UPDATE agents SET offline_marked_at = ${NOW}
  WHERE offline_marked_at IS NULL AND deregistered_at IS NULL AND last_heartbeat_at < ${NOW} - $2::bigint
  RETURNING *
), ev AS (
  INSERT INTO events (at, kind, agent_id, actor, message, data)
  SELECT off.offline_marked_at, $3::jsonb->>'kind', ${specColumns('$3::jsonb', 'NULL', 'NULL', 'off.id')}
  FROM off ORDER BY off.id
)
SELECT off.*, ${NOW} AS now,
  array(SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = off.id ORDER BY t.id) AS held
FROM off ORDER BY off.id`;

/** An agent with its held tasks and the store's now. */
export const AGENT_SELECT = `
SELECT a.*, ${NOW} AS now,
  array(SELECT t.id FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = a.id ORDER BY t.id) AS held
FROM agents a`;

/**
 * Register (or re-register by name): $2 name, $3 type, $4 capabilities, $5 host, $6 pid,
 * $7 client info (jsonb), $8 the new session, $9 the event (EventSpec jsonb). Keeps the id and
 * registeredAt of an existing agent.
 */
export const REGISTER_AGENT = `
WITH upd AS (
  UPDATE agents SET type = $3, capabilities = $4::text[], host = $5, pid = $6, client_info = $7::jsonb,
    last_heartbeat_at = ${NOW}, session = $8, deregistered_at = NULL, offline_marked_at = NULL, forgotten_at = NULL
  WHERE name = $2
  RETURNING *
), ins AS (
  -- A new name only (an upsert would draw an id from the sequence every time, leaving gaps).
  INSERT INTO agents AS ag (name, type, capabilities, host, pid, client_info, registered_at, last_heartbeat_at,
    session)
  SELECT $2, $3, $4::text[], $5, $6, $7::jsonb, ${NOW}, ${NOW}, $8 WHERE NOT EXISTS (SELECT 1 FROM upd)
  ON CONFLICT (name) DO UPDATE SET
    type = EXCLUDED.type, capabilities = EXCLUDED.capabilities, host = EXCLUDED.host, pid = EXCLUDED.pid,
    client_info = EXCLUDED.client_info, last_heartbeat_at = EXCLUDED.last_heartbeat_at,
    session = EXCLUDED.session, deregistered_at = NULL, offline_marked_at = NULL, forgotten_at = NULL
  RETURNING ag.*
), a AS (
  SELECT * FROM upd UNION ALL SELECT * FROM ins
), ev AS (
  INSERT INTO events (at, kind, agent_id, actor, message, data)
  SELECT a.last_heartbeat_at, $9::jsonb->>'kind', ${specColumns('$9::jsonb', 'NULL', 'NULL', 'a.id')}
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
  UPDATE agents SET last_heartbeat_at = ${NOW}, offline_marked_at = NULL, forgotten_at = NULL WHERE id = $2
  RETURNING *
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
 * Forget agents long offline: $2 silent since (no heartbeat after), $3 the offline threshold (ms),
 * $4 names (NULL: any), $5 the event (EventSpec jsonb). Never one that holds a task.
 */
export const FORGET_AGENTS = `
WITH a AS (
  UPDATE agents SET forgotten_at = ${NOW}
  WHERE forgotten_at IS NULL AND last_heartbeat_at <= $2
    AND (deregistered_at IS NOT NULL OR last_heartbeat_at < ${NOW} - $3::bigint)
    AND ($4::text[] IS NULL OR name = ANY($4::text[]))
    AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.status = 'in_progress' AND t.lease_agent_id = agents.id)
  RETURNING *
), ev AS (
  INSERT INTO events (at, kind, agent_id, actor, message, data)
  SELECT a.forgotten_at, $5::jsonb->>'kind', ${specColumns('$5::jsonb', 'NULL', 'NULL', 'a.id')}
  FROM a
)
SELECT a.*, ${NOW} AS now, '{}'::bigint[] AS held FROM a ORDER BY a.id`;

/**
 * A session ended: $2 agent, $3 the session (NULL: any), $4 the event (EventSpec jsonb). Marks the
 * agent deregistered, with the event, only when the session is its current one (a newer run under
 * the same name stays registered). `found`: whether the agent exists; `marked`: whether it was marked.
 */
export const END_SESSION = `
WITH a AS (
  UPDATE agents SET deregistered_at = ${NOW} WHERE id = $2 AND ($3::text IS NULL OR session = $3::text) RETURNING *
), ev AS (
  INSERT INTO events (at, kind, agent_id, actor, message, data)
  SELECT a.deregistered_at, $4::jsonb->>'kind', ${specColumns('$4::jsonb', 'NULL', 'NULL', 'a.id')}
  FROM a
)
SELECT (SELECT count(*) FROM agents WHERE id = $2) AS found, (SELECT count(*) FROM a) AS marked`;
