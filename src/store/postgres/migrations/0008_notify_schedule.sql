-- cns on PostgreSQL, version 8: a notification about a task that became pending also says when any
-- agent of its type may claim it: "in", milliseconds from the notifying statement's time (0: now;
-- later for a delayed task, a retry's backoff, or a task kept for the agent that asked a question).
-- A waiting claim thus learns the queue's next scheduled time from the notification instead of
-- asking for it after every change, and a task not claimable yet wakes nobody before its time.
CREATE OR REPLACE FUNCTION notify_payload(t tasks) RETURNS text
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN length(p) <= 7000 THEN p ELSE json_build_object('type', t.type, 'in', d)::text END
  FROM (SELECT greatest(0, greatest(t.run_after, coalesce(t.prefer_until, 0)) - now_ms()) AS d) y,
    LATERAL (SELECT json_build_object('type', t.type, 'requires', t.requires, 'in', d)::text AS p) x
$$;
