-- One owner per switch (and one agent per host): a lease in the database,
-- held by one agent instance at a time, with an epoch that increases at
-- every takeover. The switch agent writes the epoch into the switch and
-- fences its OVSDB transactions with it, so a deposed holder cannot write.

-- +goose Up
-- kind: 'switch' (name: the Physical_Switch name) or 'host' (the host name).
-- agent and instance name the holder; both empty once released.
-- expires_at, acquired_at, renewed_at: microseconds since the epoch (UTC).
CREATE TABLE switch_leases (
    kind        TEXT   NOT NULL,
    name        TEXT   NOT NULL,
    agent       TEXT   NOT NULL,
    instance    TEXT   NOT NULL,
    epoch       BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    acquired_at BIGINT NOT NULL,
    renewed_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);

-- +goose Down
DROP TABLE switch_leases;
