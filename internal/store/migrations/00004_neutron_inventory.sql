-- The inventory mirrored from Neutron (l2gw server --inventory neutron):
-- Neutron's revision_number per network and port, so that the mirror
-- applies what it reads idempotently (an older revision never overwrites a
-- newer one), the port's status, and the facts of a host's Neutron L2
-- agent. Standalone rows keep the defaults (revision 0, no status, no agent).

-- +goose Up
ALTER TABLE networks ADD COLUMN revision_number BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ports ADD COLUMN revision_number BIGINT NOT NULL DEFAULT 0;
ALTER TABLE ports ADD COLUMN status TEXT NOT NULL DEFAULT '';
-- agent_type '' means no Neutron agent (model.Host.Agent nil);
-- agent_tunnel_types: comma-separated.
ALTER TABLE hosts ADD COLUMN agent_type TEXT NOT NULL DEFAULT '';
ALTER TABLE hosts ADD COLUMN agent_alive BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE hosts ADD COLUMN agent_started_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE hosts ADD COLUMN agent_l2_population BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE hosts ADD COLUMN agent_tunnel_types TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE hosts DROP COLUMN agent_tunnel_types;
ALTER TABLE hosts DROP COLUMN agent_l2_population;
ALTER TABLE hosts DROP COLUMN agent_started_at;
ALTER TABLE hosts DROP COLUMN agent_alive;
ALTER TABLE hosts DROP COLUMN agent_type;
ALTER TABLE ports DROP COLUMN status;
ALTER TABLE ports DROP COLUMN revision_number;
ALTER TABLE networks DROP COLUMN revision_number;
