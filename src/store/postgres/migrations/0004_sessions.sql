-- cns on PostgreSQL, version 4: leases belong to an agent's session and keep their length.
--
-- agents.session: the current session of the agent (one run of its process), minted at each
-- registration. tasks.lease_session: the session whose claim minted the lease; only that session's
-- heartbeats renew it, so a process restarted under the same name never keeps its predecessor's
-- leases alive. tasks.lease_ms: the lease length chosen at the claim, used by every renewal.
-- Both are set with the lease and cleared with it. Leases taken before this version have neither:
-- they are renewed only by task heartbeats and progress (by the default length).

ALTER TABLE agents ADD COLUMN session text;
ALTER TABLE tasks ADD COLUMN lease_session text, ADD COLUMN lease_ms bigint;
