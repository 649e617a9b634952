-- Tau schema, revision 0003_nodes (frozen once released).
--
-- Several bridges ("nodes") share one installation. Both tables are run-time
-- bookkeeping the bridges write several times a second: no NOTIFY, no history.
--
--   * bridge_nodes: one row per node (TAU_NODE__NAME), its heartbeat and the universes
--     it has outputs for ({"1": "enttec_pro", "2": "artnet"}). A row whose expires_at
--     has passed is a node that stopped renewing (dead, or cut off from the database);
--     stopped_at is set by a clean stop. `tau nodes forget NAME` deletes a row.
--   * bridge_leases: who holds what, until when. resource 'leader' is the work done
--     once (discovery, group state, circadian, switches, scenes, requests);
--     'universe:N' is the right to send universe N. standbys are the nodes the holder
--     saw able to take the resource over at its last renewal: only they may take an
--     expired lease (a node that joined later cannot know whether the holder, cut off
--     from the database, is still sending).

CREATE TABLE bridge_nodes (
    name          text PRIMARY KEY,
    host          text NOT NULL DEFAULT '',
    pid           integer,
    version       text NOT NULL DEFAULT '',
    universes     jsonb NOT NULL DEFAULT '{}'::jsonb,
    http          text,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL DEFAULT now(),
    stopped_at    timestamptz,
    CONSTRAINT bridge_nodes_name_check CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    CONSTRAINT bridge_nodes_universes_check CHECK (jsonb_typeof(universes) = 'object')
);

CREATE TABLE bridge_leases (
    resource     text PRIMARY KEY,
    holder       text NOT NULL REFERENCES bridge_nodes (name) ON DELETE CASCADE,
    acquired_at  timestamptz NOT NULL DEFAULT now(),
    renewed_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    standbys     text[] NOT NULL DEFAULT '{}',
    CONSTRAINT bridge_leases_resource_check
        CHECK (resource = 'leader' OR resource ~ '^universe:[0-9]{1,5}$')
);

CREATE INDEX bridge_leases_holder_idx ON bridge_leases (holder);
CREATE INDEX bridge_nodes_expires_at_idx ON bridge_nodes (expires_at);
