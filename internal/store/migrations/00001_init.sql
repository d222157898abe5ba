-- l2gw schema. Portable between SQLite and PostgreSQL: TEXT ids, BIGINT
-- times (Unix microseconds, 0 = unset), BOOLEAN flags, JSON text for lists.

-- +goose Up
CREATE TABLE revision (
    id        INTEGER PRIMARY KEY,
    rev       BIGINT NOT NULL,
    compacted BIGINT NOT NULL
);
INSERT INTO revision (id, rev, compacted) VALUES (1, 0, 0);

CREATE TABLE changes (
    rev    BIGINT  NOT NULL,
    seq    INTEGER NOT NULL,
    kind   TEXT    NOT NULL,
    obj_id TEXT    NOT NULL,
    op     TEXT    NOT NULL,
    PRIMARY KEY (rev, seq)
);

CREATE TABLE gateways (
    id        TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    tenant_id TEXT NOT NULL
);
CREATE INDEX gateways_name ON gateways (name);

CREATE TABLE gateway_devices (
    id         TEXT    PRIMARY KEY,
    gateway_id TEXT    NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT    NOT NULL
);
CREATE INDEX gateway_devices_gateway ON gateway_devices (gateway_id, position);

-- segmentation_ids: comma-separated VLANs in the order given, "" for none.
CREATE TABLE gateway_interfaces (
    device_id        TEXT    NOT NULL REFERENCES gateway_devices (id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    name             TEXT    NOT NULL,
    segmentation_ids TEXT    NOT NULL,
    PRIMARY KEY (device_id, position)
);

CREATE TABLE networks (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    tenant_id      TEXT    NOT NULL,
    admin_state_up BOOLEAN NOT NULL,
    network_type   TEXT    NOT NULL,
    vni            INTEGER NOT NULL,
    mtu            INTEGER NOT NULL,
    shared         BOOLEAN NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX networks_vni ON networks (network_type, vni) WHERE vni <> 0;

CREATE TABLE connections (
    id              TEXT    PRIMARY KEY,
    gateway_id      TEXT    NOT NULL REFERENCES gateways (id),
    network_id      TEXT    NOT NULL REFERENCES networks (id),
    tenant_id       TEXT    NOT NULL,
    segmentation_id INTEGER,
    UNIQUE (gateway_id, network_id)
);
CREATE INDEX connections_network ON connections (network_id);

-- connection_bindings makes "one VLAN per physical port" a constraint, so
-- concurrent connection creates cannot both bind it (L2GatewayDuplicateSegmentationID).
CREATE TABLE connection_bindings (
    connection_id  TEXT    NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    device_name    TEXT    NOT NULL,
    interface_name TEXT    NOT NULL,
    vlan           INTEGER NOT NULL
);
CREATE UNIQUE INDEX connection_bindings_port_vlan ON connection_bindings (device_name, interface_name, vlan);
CREATE INDEX connection_bindings_connection ON connection_bindings (connection_id);

CREATE TABLE ports (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    network_id     TEXT    NOT NULL REFERENCES networks (id),
    tenant_id      TEXT    NOT NULL,
    mac_address    TEXT    NOT NULL,
    host_id        TEXT    NOT NULL,
    device_owner   TEXT    NOT NULL,
    device_id      TEXT    NOT NULL,
    admin_state_up BOOLEAN NOT NULL,
    interface_name TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    UNIQUE (network_id, mac_address)
);
CREATE INDEX ports_host ON ports (host_id);

CREATE TABLE port_fixed_ips (
    port_id    TEXT    NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    subnet_id  TEXT    NOT NULL,
    ip_address TEXT    NOT NULL,
    PRIMARY KEY (port_id, position)
);

CREATE TABLE port_address_pairs (
    port_id     TEXT    NOT NULL REFERENCES ports (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    ip_address  TEXT    NOT NULL,
    mac_address TEXT    NOT NULL,
    PRIMARY KEY (port_id, position)
);

CREATE TABLE hosts (
    id             TEXT   PRIMARY KEY,
    name           TEXT   NOT NULL UNIQUE,
    vtep_ip        TEXT   NOT NULL,
    description    TEXT   NOT NULL,
    last_heartbeat BIGINT NOT NULL,
    created_at     BIGINT NOT NULL
);

-- reported is false for a switch known only from SetSwitchStatus (its agent
-- never reached it); connections need a reported switch.
CREATE TABLE switches (
    name           TEXT    PRIMARY KEY,
    id             TEXT    NOT NULL,
    reported       BOOLEAN NOT NULL,
    description    TEXT    NOT NULL,
    tunnel_ips     TEXT    NOT NULL,
    management_ips TEXT    NOT NULL,
    fault_status   TEXT    NOT NULL,
    connected      BOOLEAN NOT NULL,
    last_seen      BIGINT  NOT NULL,
    last_sync      BIGINT  NOT NULL,
    sync_revision  BIGINT  NOT NULL,
    sync_error     TEXT    NOT NULL
);

CREATE TABLE switch_ports (
    switch_name  TEXT    NOT NULL REFERENCES switches (name) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    description  TEXT    NOT NULL,
    fault_status TEXT    NOT NULL,
    PRIMARY KEY (switch_name, name)
);

CREATE TABLE local_macs (
    switch_name TEXT NOT NULL,
    network_id  TEXT NOT NULL,
    mac         TEXT NOT NULL,
    ip_address  TEXT NOT NULL,
    locator_ip  TEXT NOT NULL,
    PRIMARY KEY (switch_name, network_id, mac)
);
CREATE INDEX local_macs_network ON local_macs (network_id);

-- +goose Down
DROP TABLE local_macs;
DROP TABLE switch_ports;
DROP TABLE switches;
DROP TABLE hosts;
DROP TABLE port_address_pairs;
DROP TABLE port_fixed_ips;
DROP TABLE ports;
DROP TABLE connection_bindings;
DROP TABLE connections;
DROP TABLE networks;
DROP TABLE gateway_interfaces;
DROP TABLE gateway_devices;
DROP TABLE gateways;
DROP TABLE changes;
DROP TABLE revision;
