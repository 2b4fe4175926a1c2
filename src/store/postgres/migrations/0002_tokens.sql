-- cns on PostgreSQL, version 2: API tokens of `cns serve`.
-- Only the SHA-256 (hex) of a token's secret is stored; the secret is shown once, at creation.

CREATE TABLE tokens (
  id            bigserial PRIMARY KEY,
  name          text   NOT NULL,
  role          text   NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
  -- Agent tokens: the agent identity the bearer acts as, and its type. NULL for other roles.
  agent_name    text,
  agent_type    text,
  -- The capabilities an agent token may register with (empty = any).
  capabilities  text[] NOT NULL DEFAULT '{}',
  secret_hash   text   NOT NULL UNIQUE,
  created_at    bigint NOT NULL,
  last_used_at  bigint,
  revoked_at    bigint,
  CHECK ((role = 'agent') = (agent_name IS NOT NULL AND agent_type IS NOT NULL))
);
