-- Sync status per connection needs to know whom an agent's problem
-- concerns (switches) and what host agents realised (hosts).

-- +goose Up
-- sync_problems: JSON list of {"logical_switch", "port", "error"} behind sync_error.
ALTER TABLE switches ADD COLUMN sync_problems TEXT NOT NULL DEFAULT '[]';

-- host_status is what a host agent last reported, by host name (a host row
-- may be created after, or deleted before, its agent's report).
-- networks: JSON list of {"network_id", "attached", "missing"}.
CREATE TABLE host_status (
    name       TEXT    PRIMARY KEY,
    connected  BOOLEAN NOT NULL,
    last_sync  BIGINT  NOT NULL,
    revision   BIGINT  NOT NULL,
    error      TEXT    NOT NULL,
    networks   TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- +goose Down
DROP TABLE host_status;
ALTER TABLE switches DROP COLUMN sync_problems;
