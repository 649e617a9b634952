-- Tau schema, revision 0001_initial (frozen: never edit after release; add a new
-- revision instead). Executed verbatim by database/migrations/0001_initial.py and
-- concatenated into database/init.sql by database/build_init.py.
--
-- Only core PostgreSQL and PL/pgSQL: no extensions (the embedded pgserver build
-- ships without contrib, so no btree_gist). Every refusal is raised by the
-- database with a SQLSTATE a client can branch on and a message a user can act on:
--   23P01 exclusion_violation  overlapping DMX channels
--   23514 check_violation      everything else that is "not a valid value" (ranges,
--                              slugs, nesting depth and cycles, JSON shapes)
--   23505 unique_violation     duplicate slugs / names (PostgreSQL's own message)

-- ---------------------------------------------------------------------------
-- Validation helpers (IMMUTABLE, used by CHECK constraints and by the triggers
-- that turn a failed check into a readable message).
-- ---------------------------------------------------------------------------

CREATE FUNCTION tau_slug_problem(slug text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN slug IS NULL THEN NULL
        WHEN slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$' THEN NULL
        ELSE format('invalid slug %L: use 1-63 characters of a-z, 0-9, "-" or "_", '
                    'starting with a letter or digit (it becomes part of MQTT topics)', slug)
    END
$$;

CREATE FUNCTION tau_channels_problem(channels jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    role jsonb;
BEGIN
    IF channels IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(channels) <> 'array' OR jsonb_array_length(channels) = 0 THEN
        RETURN format('channels must be a non-empty JSON array of channel roles, got %s', channels);
    END IF;
    IF jsonb_array_length(channels) > 512 THEN
        RETURN format('channels lists %s roles; a DMX universe has 512 channels',
                      jsonb_array_length(channels));
    END IF;
    FOR role IN SELECT value FROM jsonb_array_elements(channels) LOOP
        IF jsonb_typeof(role) <> 'string' OR NOT (role #>> '{}') = ANY (ARRAY[
            'dimmer', 'dimmer_fine', 'warm', 'warm_fine', 'cool', 'cool_fine', 'cct', 'cct_fine',
            'red', 'red_fine', 'green', 'green_fine', 'blue', 'blue_fine', 'white', 'white_fine'])
        THEN
            RETURN format('unknown channel role %s: use dimmer, warm, cool, cct, red, green, blue '
                          'or white, each optionally with _fine for the 16-bit low byte', role);
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION tau_valid_rgb(color jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT color IS NULL OR (
        jsonb_typeof(color) = 'object'
        AND (SELECT bool_and(CASE WHEN jsonb_typeof(color -> k) = 'number'
                                  THEN (color ->> k)::numeric BETWEEN 0 AND 255
                                       AND (color ->> k)::numeric = trunc((color ->> k)::numeric)
                                  ELSE false END)
             FROM unnest(ARRAY['r', 'g', 'b']) AS k)
    )
$$;

-- Clock times are H:MM or HH:MM (24 h); sun anchors take an optional ±H:MM offset.
CREATE FUNCTION tau_keyframes_problem(keyframes jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    frame jsonb;
    n int := 0;
BEGIN
    IF keyframes IS NULL THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(keyframes) <> 'array' OR jsonb_array_length(keyframes) = 0 THEN
        RETURN 'keyframes must be a non-empty JSON array of {"at", "brightness", "kelvin"} objects';
    END IF;
    FOR frame IN SELECT value FROM jsonb_array_elements(keyframes) LOOP
        n := n + 1;
        IF jsonb_typeof(frame) <> 'object' THEN
            RETURN format('keyframe %s must be an object with "at", "brightness" and "kelvin", got %s',
                          n, frame);
        END IF;
        IF jsonb_typeof(frame -> 'at') IS DISTINCT FROM 'string'
           OR (frame ->> 'at') !~ '^(([01]?[0-9]|2[0-3]):[0-5][0-9]|(sunrise|sunset|noon)([+-]([01]?[0-9]|2[0-3]):[0-5][0-9])?)$'
        THEN
            RETURN format('keyframe %s: "at" must be HH:MM (24 h) or sunrise, sunset or noon with an '
                          'optional +HH:MM/-HH:MM offset, got %s', n, coalesce((frame -> 'at')::text, 'nothing'));
        END IF;
        IF NOT (CASE WHEN jsonb_typeof(frame -> 'brightness') = 'number'
                     THEN (frame ->> 'brightness')::numeric BETWEEN 0 AND 100 ELSE false END)
        THEN
            RETURN format('keyframe %s: "brightness" must be a number from 0 to 100 (percent), got %s',
                          n, coalesce((frame -> 'brightness')::text, 'nothing'));
        END IF;
        IF NOT (CASE WHEN jsonb_typeof(frame -> 'kelvin') = 'number'
                     THEN (frame ->> 'kelvin')::numeric BETWEEN 1000 AND 20000 ELSE false END)
        THEN
            RETURN format('keyframe %s: "kelvin" must be a number from 1000 to 20000, got %s',
                          n, coalesce((frame -> 'kelvin')::text, 'nothing'));
        END IF;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION tau_action_map_problem(action_map jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN action_map IS NULL THEN NULL
        WHEN jsonb_typeof(action_map) <> 'object' THEN
            format('an action map must be a JSON object {"action": "intent"}, got %s', action_map)
        ELSE (
            SELECT format('action %L maps to %s, which is not an intent: use toggle, on, off, full, '
                          'dim_start, dim_up, dim_down, dim_stop, step:<n>, rotate, scene:<slug>, '
                          'scene_index:<n> or none', e.key, e.value)
            FROM jsonb_each(action_map) AS e
            -- the switch engine's intent vocabulary (tau/switches.py); inlined rather than
            -- a helper function because pg_restore runs checks with an empty search_path
            WHERE jsonb_typeof(e.value) <> 'string'
               OR (e.value #>> '{}') !~ ('^(toggle|on|off|full|dim_start|dim_up|dim_down|dim_stop'
                                          '|rotate|none|step:[+-]?[0-9]{1,3}'
                                          '|scene:[a-z0-9][a-z0-9_-]{0,62}|scene_index:[0-9]{1,3})$')
            ORDER BY e.key
            LIMIT 1)
    END
$$;

-- ---------------------------------------------------------------------------
-- Shared trigger functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION tau_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- Raises the readable message before the slug CHECK constraint (the backstop) does.
CREATE FUNCTION tau_check_slug() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    problem text := tau_slug_problem(NEW.slug);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%: %', TG_TABLE_NAME, problem
            USING ERRCODE = 'check_violation', TABLE = TG_TABLE_NAME,
                  CONSTRAINT = TG_TABLE_NAME || '_slug_format';
    END IF;
    RETURN NEW;
END
$$;

-- Row-level on purpose: each notification carries the id of what changed, so a
-- bridge could reload selectively, and PostgreSQL folds identical payloads raised in
-- one transaction into one. Link tables report the owning object's id (group_id,
-- parent_group_id, scene_id); TRUNCATE (statement-level) reports "id": null.
-- Notifications are delivered at COMMIT only, so a rolled-back change is silent.
CREATE FUNCTION tau_notify_config() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    row_id text;
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        row_id := CASE TG_OP WHEN 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END
                  ->> TG_ARGV[0];
    END IF;
    PERFORM pg_notify('tau_config', json_build_object(
        'table', TG_TABLE_NAME, 'op', TG_OP, 'id', row_id::int)::text);
    RETURN NULL;
END
$$;

-- ---------------------------------------------------------------------------
-- Circadian profiles
-- ---------------------------------------------------------------------------

CREATE TABLE circadian_profiles (
    id          serial PRIMARY KEY,
    name        text NOT NULL CONSTRAINT circadian_profiles_name_key UNIQUE,
    keyframes   jsonb NOT NULL
        CONSTRAINT circadian_profiles_keyframes_valid CHECK (tau_keyframes_problem(keyframes) IS NULL),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION tau_check_circadian_profile() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    problem text := tau_keyframes_problem(NEW.keyframes);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'circadian profile %: %', quote_literal(NEW.name), problem
            USING ERRCODE = 'check_violation', TABLE = 'circadian_profiles',
                  CONSTRAINT = 'circadian_profiles_keyframes_valid';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER circadian_profiles_10_check BEFORE INSERT OR UPDATE ON circadian_profiles
    FOR EACH ROW EXECUTE FUNCTION tau_check_circadian_profile();

-- ---------------------------------------------------------------------------
-- Fixture models and fixtures
-- ---------------------------------------------------------------------------

CREATE TABLE fixture_models (
    id             serial PRIMARY KEY,
    manufacturer   text NOT NULL DEFAULT '',
    model          text NOT NULL,
    channels       jsonb NOT NULL DEFAULT '["dimmer"]'
        CONSTRAINT fixture_models_channels_valid CHECK (tau_channels_problem(channels) IS NULL),
    min_kelvin     int NOT NULL DEFAULT 2700,
    max_kelvin     int NOT NULL DEFAULT 6500,
    dimming_curve  text NOT NULL DEFAULT 'linear',
    min_level      real NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT fixture_models_manufacturer_model_key UNIQUE (manufacturer, model),
    CONSTRAINT fixture_models_kelvin_range
        CHECK (1000 <= min_kelvin AND min_kelvin < max_kelvin AND max_kelvin <= 20000),
    -- linear | square | cie1931 | a gamma exponent from 0.1 to 10, e.g. '2.2'
    CONSTRAINT fixture_models_dimming_curve_valid CHECK (
        CASE WHEN dimming_curve ~ '^[0-9]{1,2}(\.[0-9]{1,3})?$'
             THEN dimming_curve::numeric BETWEEN 0.1 AND 10
             ELSE dimming_curve IN ('linear', 'square', 'cie1931')
        END),
    CONSTRAINT fixture_models_min_level_percent CHECK (min_level >= 0 AND min_level < 100)
);

CREATE FUNCTION tau_check_fixture_model() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    problem text := tau_channels_problem(NEW.channels);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'fixture model %: %', quote_literal(NEW.model), problem
            USING ERRCODE = 'check_violation', TABLE = 'fixture_models',
                  CONSTRAINT = 'fixture_models_channels_valid';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER fixture_models_10_check BEFORE INSERT OR UPDATE ON fixture_models
    FOR EACH ROW EXECUTE FUNCTION tau_check_fixture_model();

-- A fixture occupies channel_count consecutive channels from start_channel;
-- channel_count always mirrors its model's footprint (set by trigger). dmx_span maps
-- (universe, channels) onto one integer line, 1024 per universe, so the built-in
-- int4range GiST opclass can exclude overlaps without btree_gist.
CREATE TABLE fixtures (
    id                serial PRIMARY KEY,
    name              text NOT NULL,
    slug              text NOT NULL
        CONSTRAINT fixtures_slug_key UNIQUE
        CONSTRAINT fixtures_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    fixture_model_id  int NOT NULL
        CONSTRAINT fixtures_fixture_model_id_fkey REFERENCES fixture_models (id) ON DELETE RESTRICT,
    universe          int NOT NULL DEFAULT 1
        CONSTRAINT fixtures_universe_0_63999 CHECK (universe BETWEEN 0 AND 63999),
    start_channel     int NOT NULL
        CONSTRAINT fixtures_start_channel_min_1 CHECK (start_channel >= 1),
    channel_count     int NOT NULL DEFAULT 1
        CONSTRAINT fixtures_channel_count_1_512 CHECK (channel_count BETWEEN 1 AND 512),
    last_channel      int GENERATED ALWAYS AS (start_channel + channel_count - 1) STORED,
    dmx_span          int4range GENERATED ALWAYS AS (
        int4range(universe * 1024 + start_channel, universe * 1024 + start_channel + channel_count)
    ) STORED,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT fixtures_last_channel_max_512 CHECK (start_channel + channel_count - 1 <= 512),
    -- The concurrency-safe backstop: two transactions racing past the friendly
    -- trigger check below still cannot both commit overlapping channels.
    CONSTRAINT fixtures_dmx_no_overlap EXCLUDE USING gist (dmx_span WITH &&)
);

CREATE INDEX fixtures_fixture_model_id_idx ON fixtures (fixture_model_id);
CREATE INDEX fixtures_universe_start_channel_idx ON fixtures (universe, start_channel);

-- Sets channel_count from the model, then refuses a footprint past channel 512 or
-- overlapping another fixture, naming both fixtures.
CREATE FUNCTION tau_check_fixture_footprint() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    model_name text;
    other record;
    last int;
BEGIN
    SELECT jsonb_array_length(m.channels), trim(m.manufacturer || ' ' || m.model)
      INTO NEW.channel_count, model_name
      FROM fixture_models m WHERE m.id = NEW.fixture_model_id;
    IF NOT FOUND THEN
        RETURN NEW;  -- the foreign key reports the missing model
    END IF;
    IF NEW.start_channel IS NULL OR NEW.start_channel < 1 OR NEW.universe IS NULL THEN
        RETURN NEW;  -- NOT NULL / CHECK constraints report these
    END IF;
    last := NEW.start_channel + NEW.channel_count - 1;
    IF last > 512 THEN
        RAISE EXCEPTION 'DMX footprint past channel 512: fixture % (universe %, channels %-%) needs % channels for model %, the last channel must be <= 512',
                quote_literal(NEW.slug), NEW.universe, NEW.start_channel, last,
                NEW.channel_count, quote_literal(model_name)
            USING ERRCODE = 'check_violation', TABLE = 'fixtures',
                  CONSTRAINT = 'fixtures_last_channel_max_512',
                  HINT = format('start it at channel %s or lower, or use another universe',
                                513 - NEW.channel_count);
    END IF;
    SELECT f.slug, f.universe, f.start_channel, f.start_channel + f.channel_count - 1 AS last_channel
      INTO other
      FROM fixtures f
     WHERE f.id <> NEW.id
       AND f.slug <> NEW.slug  -- the row an INSERT ... ON CONFLICT (slug) would keep
       AND f.dmx_span && int4range(NEW.universe * 1024 + NEW.start_channel,
                                   NEW.universe * 1024 + last + 1)
     ORDER BY f.start_channel
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'DMX collision: fixture % (universe %, channels %-%) overlaps fixture % (universe %, channels %-%)',
                quote_literal(NEW.slug), NEW.universe, NEW.start_channel, last,
                quote_literal(other.slug), other.universe, other.start_channel, other.last_channel
            USING ERRCODE = 'exclusion_violation', TABLE = 'fixtures',
                  CONSTRAINT = 'fixtures_dmx_no_overlap';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER fixtures_10_slug BEFORE INSERT OR UPDATE OF slug ON fixtures
    FOR EACH ROW EXECUTE FUNCTION tau_check_slug();
CREATE TRIGGER fixtures_20_footprint BEFORE INSERT OR UPDATE ON fixtures
    FOR EACH ROW EXECUTE FUNCTION tau_check_fixture_footprint();

-- A model whose footprint changes re-checks (and re-sizes) every fixture using it;
-- any collision or overflow that causes rejects the model update.
CREATE FUNCTION tau_refit_model_fixtures() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE fixtures SET channel_count = jsonb_array_length(NEW.channels)
     WHERE fixture_model_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER fixture_models_20_refit AFTER UPDATE OF channels ON fixture_models
    FOR EACH ROW WHEN (OLD.channels IS DISTINCT FROM NEW.channels)
    EXECUTE FUNCTION tau_refit_model_fixtures();

-- ---------------------------------------------------------------------------
-- Groups
-- ---------------------------------------------------------------------------

CREATE TABLE groups (
    id                    serial PRIMARY KEY,
    name                  text NOT NULL,
    slug                  text NOT NULL
        CONSTRAINT groups_slug_key UNIQUE
        CONSTRAINT groups_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    circadian_profile_id  int
        CONSTRAINT groups_circadian_profile_id_fkey
        REFERENCES circadian_profiles (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX groups_circadian_profile_id_idx ON groups (circadian_profile_id);

CREATE TRIGGER groups_10_slug BEFORE INSERT OR UPDATE OF slug ON groups
    FOR EACH ROW EXECUTE FUNCTION tau_check_slug();

CREATE TABLE group_fixtures (
    group_id    int NOT NULL
        CONSTRAINT group_fixtures_group_id_fkey REFERENCES groups (id) ON DELETE CASCADE,
    fixture_id  int NOT NULL
        CONSTRAINT group_fixtures_fixture_id_fkey REFERENCES fixtures (id) ON DELETE CASCADE,
    CONSTRAINT group_fixtures_pkey PRIMARY KEY (group_id, fixture_id)
);

CREATE INDEX group_fixtures_fixture_id_idx ON group_fixtures (fixture_id);

CREATE TABLE group_hierarchy (
    parent_group_id  int NOT NULL
        CONSTRAINT group_hierarchy_parent_group_id_fkey REFERENCES groups (id) ON DELETE CASCADE,
    child_group_id   int NOT NULL
        CONSTRAINT group_hierarchy_child_group_id_fkey REFERENCES groups (id) ON DELETE CASCADE,
    CONSTRAINT group_hierarchy_pkey PRIMARY KEY (parent_group_id, child_group_id),
    CONSTRAINT group_hierarchy_not_self CHECK (parent_group_id <> child_group_id)
);

CREATE INDEX group_hierarchy_child_group_id_idx ON group_hierarchy (child_group_id);

-- Refuses a cycle or a chain of more than 4 levels of groups (root → child →
-- grandchild → great-grandchild). Levels are counted in groups, so a single edge
-- is 2 levels. The advisory lock serialises all hierarchy changes: two concurrent
-- edges that are each fine alone cannot together form a cycle or a 5-level chain.
-- (Under READ COMMITTED each query below sees what committed before the lock.)
CREATE FUNCTION tau_check_group_nesting() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    max_levels constant int := 4;
    parent_slug text;
    child_slug text;
    up int[];
    down int[];
    chain text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('tau'), hashtext('group_hierarchy'));
    SELECT slug INTO parent_slug FROM groups WHERE id = NEW.parent_group_id;
    SELECT slug INTO child_slug FROM groups WHERE id = NEW.child_group_id;
    IF parent_slug IS NULL OR child_slug IS NULL THEN
        RETURN NEW;  -- the foreign keys report the missing group
    END IF;
    IF NEW.parent_group_id = NEW.child_group_id THEN
        RAISE EXCEPTION 'group nesting cycle: group % cannot contain itself', quote_literal(child_slug)
            USING ERRCODE = 'check_violation', TABLE = 'group_hierarchy',
                  CONSTRAINT = 'group_hierarchy_not_self';
    END IF;

    -- The longest chain of ancestors ending at the new parent, root first, ignoring
    -- the edge being replaced by an UPDATE.
    WITH RECURSIVE edges AS (
        SELECT h.parent_group_id, h.child_group_id FROM group_hierarchy h
         WHERE TG_OP = 'INSERT'
            OR (h.parent_group_id, h.child_group_id) <> (OLD.parent_group_id, OLD.child_group_id)
    ), ancestors(path) AS (
        SELECT ARRAY[NEW.parent_group_id]
        UNION ALL
        SELECT e.parent_group_id || a.path
          FROM ancestors a JOIN edges e ON e.child_group_id = a.path[1]
         WHERE cardinality(a.path) <= 64 AND NOT e.parent_group_id = ANY (a.path)
    )
    SELECT path INTO up FROM ancestors ORDER BY cardinality(path) DESC LIMIT 1;

    IF NEW.child_group_id = ANY (up) THEN
        RAISE EXCEPTION 'group nesting cycle: % is already an ancestor of %, so it cannot also be its child',
                quote_literal(child_slug), quote_literal(parent_slug)
            USING ERRCODE = 'check_violation', TABLE = 'group_hierarchy',
                  CONSTRAINT = 'group_hierarchy_no_cycle';
    END IF;

    -- The longest chain of descendants starting at the new child.
    WITH RECURSIVE edges AS (
        SELECT h.parent_group_id, h.child_group_id FROM group_hierarchy h
         WHERE TG_OP = 'INSERT'
            OR (h.parent_group_id, h.child_group_id) <> (OLD.parent_group_id, OLD.child_group_id)
    ), descendants(path) AS (
        SELECT ARRAY[NEW.child_group_id]
        UNION ALL
        SELECT d.path || e.child_group_id
          FROM descendants d JOIN edges e ON e.parent_group_id = d.path[cardinality(d.path)]
         WHERE cardinality(d.path) <= 64 AND NOT e.child_group_id = ANY (d.path)
    )
    SELECT path INTO down FROM descendants ORDER BY cardinality(path) DESC LIMIT 1;

    IF cardinality(up) + cardinality(down) > max_levels THEN
        SELECT string_agg(g.slug, ' > ' ORDER BY p.ord) INTO chain
          FROM unnest(up || down) WITH ORDINALITY AS p(id, ord) JOIN groups g ON g.id = p.id;
        RAISE EXCEPTION 'group nesting too deep: putting % inside % would make % levels (%), the maximum is %',
                quote_literal(child_slug), quote_literal(parent_slug),
                cardinality(up) + cardinality(down), chain, max_levels
            USING ERRCODE = 'check_violation', TABLE = 'group_hierarchy',
                  CONSTRAINT = 'group_hierarchy_max_depth';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER group_hierarchy_10_nesting BEFORE INSERT OR UPDATE ON group_hierarchy
    FOR EACH ROW EXECUTE FUNCTION tau_check_group_nesting();

-- ---------------------------------------------------------------------------
-- Scenes
-- ---------------------------------------------------------------------------

CREATE TABLE scenes (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    slug        text NOT NULL
        CONSTRAINT scenes_slug_key UNIQUE
        CONSTRAINT scenes_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    group_id    int CONSTRAINT scenes_group_id_fkey REFERENCES groups (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX scenes_group_id_idx ON scenes (group_id);

CREATE TRIGGER scenes_10_slug BEFORE INSERT OR UPDATE OF slug ON scenes
    FOR EACH ROW EXECUTE FUNCTION tau_check_slug();

CREATE TABLE scene_values (
    scene_id    int NOT NULL
        CONSTRAINT scene_values_scene_id_fkey REFERENCES scenes (id) ON DELETE CASCADE,
    fixture_id  int NOT NULL
        CONSTRAINT scene_values_fixture_id_fkey REFERENCES fixtures (id) ON DELETE CASCADE,
    is_on       boolean NOT NULL DEFAULT true,
    brightness  smallint NOT NULL DEFAULT 255
        CONSTRAINT scene_values_brightness_0_255 CHECK (brightness BETWEEN 0 AND 255),
    kelvin      int CONSTRAINT scene_values_kelvin_1000_20000 CHECK (kelvin BETWEEN 1000 AND 20000),
    color       jsonb CONSTRAINT scene_values_color_rgb CHECK (tau_valid_rgb(color)),
    CONSTRAINT scene_values_pkey PRIMARY KEY (scene_id, fixture_id)
);

CREATE INDEX scene_values_fixture_id_idx ON scene_values (fixture_id);

-- ---------------------------------------------------------------------------
-- Switches
-- ---------------------------------------------------------------------------

CREATE TABLE switch_models (
    id            serial PRIMARY KEY,
    manufacturer  text NOT NULL DEFAULT '',
    model         text NOT NULL,
    kind          text NOT NULL DEFAULT 'momentary'
        CONSTRAINT switch_models_kind_valid
        CHECK (kind IN ('momentary', 'latching', 'rotary', 'keypad', 'remote')),
    actions       jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT switch_models_actions_strings CHECK (
            jsonb_typeof(actions) = 'array'
            AND NOT jsonb_path_exists(actions, '$[*] ? (@.type() != "string")')),
    action_map    jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT switch_models_action_map_valid CHECK (tau_action_map_problem(action_map) IS NULL),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT switch_models_manufacturer_model_key UNIQUE (manufacturer, model)
);

-- Targets are ON DELETE SET NULL: deleting a group or fixture leaves the physical
-- switch (its topic, timings and mapping) configured but idle until it is
-- re-targeted, instead of silently deleting a device record.
CREATE TABLE switches (
    id                 serial PRIMARY KEY,
    name               text NOT NULL,
    slug               text NOT NULL
        CONSTRAINT switches_slug_key UNIQUE
        CONSTRAINT switches_slug_format CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    switch_model_id    int NOT NULL
        CONSTRAINT switches_switch_model_id_fkey REFERENCES switch_models (id) ON DELETE RESTRICT,
    target_group_id    int
        CONSTRAINT switches_target_group_id_fkey REFERENCES groups (id) ON DELETE SET NULL,
    target_fixture_id  int
        CONSTRAINT switches_target_fixture_id_fkey REFERENCES fixtures (id) ON DELETE SET NULL,
    input_topic        text
        CONSTRAINT switches_input_topic_no_wildcards
        CHECK (input_topic <> '' AND input_topic !~ '[+#]' AND octet_length(input_topic) <= 65535),
    mapping            jsonb NOT NULL DEFAULT '{}'
        CONSTRAINT switches_mapping_valid CHECK (tau_action_map_problem(mapping) IS NULL),
    double_tap_ms      int NOT NULL DEFAULT 500
        CONSTRAINT switches_double_tap_ms_200_900 CHECK (double_tap_ms BETWEEN 200 AND 900),
    hold_ms            int NOT NULL DEFAULT 500
        CONSTRAINT switches_hold_ms_100_10000 CHECK (hold_ms BETWEEN 100 AND 10000),
    dim_speed_ms       int NOT NULL DEFAULT 2000
        CONSTRAINT switches_dim_speed_ms_positive CHECK (dim_speed_ms > 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT switches_one_target CHECK (target_group_id IS NULL OR target_fixture_id IS NULL)
);

CREATE INDEX switches_switch_model_id_idx ON switches (switch_model_id);
CREATE INDEX switches_target_group_id_idx ON switches (target_group_id);
CREATE INDEX switches_target_fixture_id_idx ON switches (target_fixture_id);
CREATE INDEX switches_input_topic_idx ON switches (input_topic) WHERE input_topic IS NOT NULL;

CREATE TRIGGER switches_10_slug BEFORE INSERT OR UPDATE OF slug ON switches
    FOR EACH ROW EXECUTE FUNCTION tau_check_slug();

-- ---------------------------------------------------------------------------
-- Runtime state (written by the bridge in batches; no NOTIFY, no updated_at trigger:
-- the bridge sets updated_at itself).
-- ---------------------------------------------------------------------------

CREATE TABLE fixture_state (
    fixture_id           int PRIMARY KEY
        CONSTRAINT fixture_state_fixture_id_fkey REFERENCES fixtures (id) ON DELETE CASCADE,
    is_on                boolean NOT NULL DEFAULT false,
    brightness           smallint NOT NULL DEFAULT 0
        CONSTRAINT fixture_state_brightness_0_255 CHECK (brightness BETWEEN 0 AND 255),
    kelvin               int
        CONSTRAINT fixture_state_kelvin_1000_20000 CHECK (kelvin BETWEEN 1000 AND 20000),
    color                jsonb CONSTRAINT fixture_state_color_rgb CHECK (tau_valid_rgb(color)),
    color_mode           text,
    circadian_suspended  boolean NOT NULL DEFAULT false,
    suspended_at         timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX fixture_state_on_idx ON fixture_state (fixture_id) WHERE is_on;
CREATE INDEX fixture_state_circadian_suspended_idx ON fixture_state (fixture_id)
    WHERE circadian_suspended;
CREATE INDEX fixture_state_updated_at_idx ON fixture_state (updated_at);

CREATE TABLE group_state (
    group_id             int PRIMARY KEY
        CONSTRAINT group_state_group_id_fkey REFERENCES groups (id) ON DELETE CASCADE,
    circadian_enabled    boolean NOT NULL DEFAULT true,
    circadian_suspended  boolean NOT NULL DEFAULT false,
    suspended_at         timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX group_state_circadian_suspended_idx ON group_state (group_id)
    WHERE circadian_suspended;
CREATE INDEX group_state_updated_at_idx ON group_state (updated_at);

-- ---------------------------------------------------------------------------
-- updated_at and change notification on every configuration table
-- ---------------------------------------------------------------------------

CREATE TRIGGER circadian_profiles_90_touch BEFORE UPDATE ON circadian_profiles
    FOR EACH ROW EXECUTE FUNCTION tau_touch_updated_at();
CREATE TRIGGER fixture_models_90_touch BEFORE UPDATE ON fixture_models
    FOR EACH ROW EXECUTE FUNCTION tau_touch_updated_at();
CREATE TRIGGER fixtures_90_touch BEFORE UPDATE ON fixtures
    FOR EACH ROW EXECUTE FUNCTION tau_touch_updated_at();
CREATE TRIGGER groups_90_touch BEFORE UPDATE ON groups
    FOR EACH ROW EXECUTE FUNCTION tau_touch_updated_at();
CREATE TRIGGER scenes_90_touch BEFORE UPDATE ON scenes
    FOR EACH ROW EXECUTE FUNCTION tau_touch_updated_at();
CREATE TRIGGER switch_models_90_touch BEFORE UPDATE ON switch_models
    FOR EACH ROW EXECUTE FUNCTION tau_touch_updated_at();
CREATE TRIGGER switches_90_touch BEFORE UPDATE ON switches
    FOR EACH ROW EXECUTE FUNCTION tau_touch_updated_at();

CREATE TRIGGER circadian_profiles_notify AFTER INSERT OR UPDATE OR DELETE ON circadian_profiles
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('id');
CREATE TRIGGER fixture_models_notify AFTER INSERT OR UPDATE OR DELETE ON fixture_models
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('id');
CREATE TRIGGER fixtures_notify AFTER INSERT OR UPDATE OR DELETE ON fixtures
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('id');
CREATE TRIGGER groups_notify AFTER INSERT OR UPDATE OR DELETE ON groups
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('id');
CREATE TRIGGER group_fixtures_notify AFTER INSERT OR UPDATE OR DELETE ON group_fixtures
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('group_id');
CREATE TRIGGER group_hierarchy_notify AFTER INSERT OR UPDATE OR DELETE ON group_hierarchy
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('parent_group_id');
CREATE TRIGGER scenes_notify AFTER INSERT OR UPDATE OR DELETE ON scenes
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('id');
CREATE TRIGGER scene_values_notify AFTER INSERT OR UPDATE OR DELETE ON scene_values
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('scene_id');
CREATE TRIGGER switch_models_notify AFTER INSERT OR UPDATE OR DELETE ON switch_models
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('id');
CREATE TRIGGER switches_notify AFTER INSERT OR UPDATE OR DELETE ON switches
    FOR EACH ROW EXECUTE FUNCTION tau_notify_config('id');

CREATE TRIGGER circadian_profiles_notify_truncate AFTER TRUNCATE ON circadian_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER fixture_models_notify_truncate AFTER TRUNCATE ON fixture_models
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER fixtures_notify_truncate AFTER TRUNCATE ON fixtures
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER groups_notify_truncate AFTER TRUNCATE ON groups
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER group_fixtures_notify_truncate AFTER TRUNCATE ON group_fixtures
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER group_hierarchy_notify_truncate AFTER TRUNCATE ON group_hierarchy
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER scenes_notify_truncate AFTER TRUNCATE ON scenes
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER scene_values_notify_truncate AFTER TRUNCATE ON scene_values
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER switch_models_notify_truncate AFTER TRUNCATE ON switch_models
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();
CREATE TRIGGER switches_notify_truncate AFTER TRUNCATE ON switches
    FOR EACH STATEMENT EXECUTE FUNCTION tau_notify_config();

-- ---------------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------------

-- Every fixture with its model and current state; fixtures the bridge has not yet
-- persisted a state for show as off.
CREATE VIEW v_fixture_status AS
SELECT f.id                                     AS fixture_id,
       f.name,
       f.slug,
       f.universe,
       f.start_channel,
       f.last_channel,
       f.channel_count,
       coalesce(s.is_on, false)                 AS is_on,
       coalesce(s.brightness, 0::smallint)      AS brightness,
       s.kelvin,
       s.color,
       s.color_mode,
       coalesce(s.circadian_suspended, false)   AS circadian_suspended,
       f.fixture_model_id,
       m.manufacturer,
       m.model,
       m.channels,
       m.min_kelvin,
       m.max_kelvin,
       s.updated_at
  FROM fixtures f
  JOIN fixture_models m ON m.id = f.fixture_model_id
  LEFT JOIN fixture_state s ON s.fixture_id = f.id;

-- Every (group, fixture) pair including nested groups, with the shortest depth:
-- 0 = direct member of the group, 1 = member of a child group, and so on.
CREATE VIEW v_group_membership AS
WITH RECURSIVE tree(group_id, member_group_id, depth) AS (
    SELECT g.id, g.id, 0 FROM groups g
    UNION ALL
    SELECT t.group_id, h.child_group_id, t.depth + 1
      FROM tree t
      JOIN group_hierarchy h ON h.parent_group_id = t.member_group_id
     WHERE t.depth < 16
)
SELECT t.group_id, gf.fixture_id, min(t.depth) AS depth
  FROM tree t
  JOIN group_fixtures gf ON gf.group_id = t.member_group_id
 GROUP BY t.group_id, gf.fixture_id;
