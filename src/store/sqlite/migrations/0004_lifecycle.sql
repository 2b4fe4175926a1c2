-- cns SQLite schema, version 4: the lifecycle is decided above the store (src/coordinator/
-- lifecycle.ts); the schema keeps only its guards.
--
-- attempts.lease_token: the token each claim minted, so that a refused write can say whether its
-- token was a former holder's (and how that attempt ended) or one never given out.
--
-- The transition trigger lists the moves of src/core/status.ts (MOVES): pending → failed,
-- pending → blocked, assigned → pending and completed → pending/blocked are gone (no operation
-- makes them). test/state-machine.test.ts reads this trigger back and compares it with status.ts.

ALTER TABLE attempts ADD COLUMN lease_token TEXT;

DROP TRIGGER tasks_status_transition;

CREATE TRIGGER tasks_status_transition
BEFORE UPDATE OF status ON tasks
WHEN NEW.status IS NOT OLD.status
 AND instr(
   '|blocked>pending|blocked>cancelled'
   || '|pending>assigned|pending>in_progress|pending>cancelled'
   || '|assigned>in_progress|assigned>cancelled'
   || '|in_progress>pending|in_progress>awaiting_review|in_progress>completed|in_progress>failed'
   || '|in_progress>cancelled'
   || '|awaiting_review>pending|awaiting_review>completed|awaiting_review>failed|awaiting_review>cancelled'
   || '|failed>blocked|failed>pending'
   || '|cancelled>blocked|cancelled>pending|',
   '|' || OLD.status || '>' || NEW.status || '|') = 0
BEGIN
  SELECT RAISE(ABORT, 'illegal task status transition');
END;
