-- cns on PostgreSQL, version 7: one lease reaper per database, notifications that say what
-- changed (so that a waiting agent wakes only for work it can take), and agents that can be forgotten.
--
-- leaders: who leads a campaign (Store.campaign; the lease reaper), written by a store when it takes
-- over. The leadership itself is a session-level advisory lock (see src/store/postgres/leadership.ts);
-- this row only tells people and tools who holds it, and until when it is known alive (the leader
-- renews expires_at while it leads).
CREATE TABLE leaders (
  name       text    PRIMARY KEY,
  holder     text    NOT NULL,
  host       text    NOT NULL,
  pid        integer NOT NULL,
  since      bigint  NOT NULL,
  expires_at bigint
);

-- The payload of a notification on channel cns_<schema>: '{"type":…,"requires":[…]}' when a task of
-- that type became pending (any agent of the type with those capabilities may claim it),
-- '{"agent":…}' when it became claimable by one agent only (assigned to it, or kept for the agent
-- that asked after an answer: then the type is announced too, for when the preference ends), and ''
-- for any other change. PostgreSQL folds identical notifications of a transaction.
CREATE FUNCTION notify_payload(t tasks) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN length(p) <= 7000 THEN p ELSE json_build_object('type', t.type)::text END
  FROM (SELECT json_build_object('type', t.type, 'requires', t.requires)::text AS p) x
$$;

CREATE OR REPLACE FUNCTION notify_task_change() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  channel text := 'cns_' || TG_TABLE_SCHEMA;
BEGIN
  IF NEW.status = 'assigned' THEN
    PERFORM pg_notify(channel, json_build_object('agent', NEW.assigned_to)::text);
  ELSIF NEW.status = 'pending' AND OLD.status IS DISTINCT FROM 'pending' THEN
    IF NEW.prefer_agent_id IS NOT NULL THEN
      PERFORM pg_notify(channel, json_build_object('agent', NEW.prefer_agent_id)::text);
    END IF;
    PERFORM pg_notify(channel, notify_payload(NEW));
  ELSE
    PERFORM pg_notify(channel, '');
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER tasks_notify_update ON tasks;
CREATE TRIGGER tasks_notify_update
  AFTER UPDATE ON tasks
  FOR EACH ROW WHEN (
    (OLD.status IS DISTINCT FROM NEW.status AND NEW.status NOT IN ('in_progress', 'completed'))
    OR (NEW.status = 'assigned' AND OLD.assigned_to IS DISTINCT FROM NEW.assigned_to)
    OR OLD.progress_at IS DISTINCT FROM NEW.progress_at)
  EXECUTE FUNCTION notify_task_change();

-- Inserted tasks: one notification per distinct type and capabilities among the pending ones, and
-- '' when none is pending (a blocked task is still news to a supervisor or a dashboard).
CREATE FUNCTION notify_tasks_inserted() RETURNS trigger
  LANGUAGE plpgsql AS $$
DECLARE
  channel text := 'cns_' || TG_TABLE_SCHEMA;
  payload text;
  any_pending boolean := false;
BEGIN
  FOR payload IN SELECT DISTINCT notify_payload(i) FROM inserted i WHERE i.status = 'pending' LOOP
    any_pending := true;
    PERFORM pg_notify(channel, payload);
  END LOOP;
  IF NOT any_pending THEN
    PERFORM pg_notify(channel, '');
  END IF;
  RETURN NULL;
END
$$;

DROP TRIGGER tasks_notify_insert ON tasks;
CREATE TRIGGER tasks_notify_insert
  AFTER INSERT ON tasks
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION notify_tasks_inserted();

-- agents.forgotten_at: set by `cns agents forget` on agents long offline (listAgents leaves them
-- out; their history stays); cleared when the agent registers or heartbeats again.
ALTER TABLE agents ADD COLUMN forgotten_at bigint;
