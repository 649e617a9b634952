-- Tau schema, revision 0007_identity_rooms (frozen once released).
--
-- One installation, its own entities in Home Assistant:
--   * installation: exactly one row, created with the schema. Its id names this
--     installation's Home Assistant entities and devices (a backup and its restore
--     keep it; a second installation on the same broker has another).
--   * fixtures, groups, scenes, switches get a uid of their own, never reused: a
--     restored backup resets the serial ids, but an object made later and deleted by
--     the restore does not lend its Home Assistant entity to the next one.
-- Rooms: a group marked is_room is a room; its fixtures (nested ones included) are
-- suggested to Home Assistant in that area (the innermost room wins).

CREATE TABLE installation (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    one_row     boolean NOT NULL DEFAULT true
        CONSTRAINT installation_one_row UNIQUE
        CONSTRAINT installation_one_row_check CHECK (one_row),
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO installation DEFAULT VALUES;

ALTER TABLE fixtures ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid()
    CONSTRAINT fixtures_uid_key UNIQUE;
ALTER TABLE groups ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid()
    CONSTRAINT groups_uid_key UNIQUE;
ALTER TABLE scenes ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid()
    CONSTRAINT scenes_uid_key UNIQUE;
ALTER TABLE switches ADD COLUMN uid uuid NOT NULL DEFAULT gen_random_uuid()
    CONSTRAINT switches_uid_key UNIQUE;

ALTER TABLE groups ADD COLUMN is_room boolean NOT NULL DEFAULT false;
