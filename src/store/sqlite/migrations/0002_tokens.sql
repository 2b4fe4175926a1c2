-- cns SQLite schema, version 2: API tokens of `cns serve`.
-- Only the SHA-256 (hex) of a token's secret is stored; the secret is shown once, at creation.

CREATE TABLE tokens (
  id            INTEGER PRIMARY KEY,
  name          TEXT    NOT NULL,
  role          TEXT    NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
  -- Agent tokens: the agent identity the bearer acts as, and its type. NULL for other roles.
  agent_name    TEXT,
  agent_type    TEXT,
  -- JSON array of the capabilities an agent token may register with ([] = any).
  capabilities  TEXT    NOT NULL DEFAULT '[]',
  secret_hash   TEXT    NOT NULL UNIQUE,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  revoked_at    INTEGER,
  CHECK ((role = 'agent') = (agent_name IS NOT NULL AND agent_type IS NOT NULL))
);
