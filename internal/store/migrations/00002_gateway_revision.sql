-- Gateways carry Neutron's revision_number: 1 at creation, one more at every
-- update; PUT with If-Match: revision_number=N is refused (412) unless it
-- still equals N, so read-modify-write clients lose no change.

-- +goose Up
ALTER TABLE gateways ADD COLUMN revision_number BIGINT NOT NULL DEFAULT 1;

-- +goose Down
ALTER TABLE gateways DROP COLUMN revision_number;
