-- Presence of agents shared by every replica (several l2gw servers on one
-- PostgreSQL): the replica that serves an agent's plan stream owns its
-- presence (presence_owner, a replica id) and renews heartbeat (Unix
-- microseconds) while the stream is open. Every replica shows the same
-- connected flag, and an owner that dies lets it expire instead of leaving
-- the agent "connected" for good.

-- +goose Up
ALTER TABLE switches ADD COLUMN presence_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE switches ADD COLUMN heartbeat BIGINT NOT NULL DEFAULT 0;
ALTER TABLE host_status ADD COLUMN presence_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE host_status ADD COLUMN heartbeat BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE host_status DROP COLUMN heartbeat;
ALTER TABLE host_status DROP COLUMN presence_owner;
ALTER TABLE switches DROP COLUMN heartbeat;
ALTER TABLE switches DROP COLUMN presence_owner;
