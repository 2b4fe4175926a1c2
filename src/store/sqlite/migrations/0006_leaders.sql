-- cns SQLite schema, version 6: one lease reaper per database, a signal that lets waiters in other
-- processes tell new work from any other commit, and agents that can be forgotten.
--
-- leaders: who leads a campaign (Store.campaign; the lease reaper), with a lease the leader renews.
-- Another store takes over when the lease has run out or, on the same host, when the leader's
-- process is gone (its pid is checked).
CREATE TABLE leaders (
  name       TEXT    PRIMARY KEY,
  holder     TEXT    NOT NULL,
  host       TEXT    NOT NULL,
  pid        INTEGER NOT NULL,
  since      INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;

-- signals.claimable counts the changes that may let an agent claim: a task inserted as, or moved
-- to, pending or assigned (or assigned to another agent). Any commit wakes the watchers of other processes (PRAGMA data_version);
-- they read this counter and offer work to a waiting claim only when it moved, so heartbeats,
-- progress notes and completions do not make every waiting agent try a claim.
CREATE TABLE signals (
  name TEXT    PRIMARY KEY,
  seq  INTEGER NOT NULL
) STRICT;
INSERT INTO signals (name, seq) VALUES ('claimable', 0);

CREATE TRIGGER tasks_claimable_insert AFTER INSERT ON tasks
  WHEN NEW.status IN ('pending', 'assigned')
BEGIN
  UPDATE signals SET seq = seq + 1 WHERE name = 'claimable';
END;

CREATE TRIGGER tasks_claimable_update AFTER UPDATE OF status, assigned_to ON tasks
  WHEN NEW.status IN ('pending', 'assigned')
    AND (OLD.status IS NOT NEW.status OR OLD.assigned_to IS NOT NEW.assigned_to)
BEGIN
  UPDATE signals SET seq = seq + 1 WHERE name = 'claimable';
END;

-- agents.forgotten_at: set by `cns agents forget` on agents long offline (listAgents leaves them
-- out; their history stays); cleared when the agent registers or heartbeats again.
ALTER TABLE agents ADD COLUMN forgotten_at INTEGER;
