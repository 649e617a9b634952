-- Tau schema, revision 0002_fixture_library (frozen once released).
--
-- Fixture models as lighting libraries (QLC+, Open Fixture Library) describe them:
--   * channel roles amber, uv, lime, cyan, indigo (each with _fine) next to dimmer,
--     warm, cool, cct, red, green, blue, white;
--   * fixed channels: {"role": "fixed", "value": 0-255} is sent as is, always (shutter
--     open, macro off, pan/tilt parked). Any element may be an object
--     {"role": …, "name": "…"} instead of a plain role string, to keep the channel's
--     name from the library; plain strings keep working;
--   * a dimmer sharing its channel with other functions ("dimmer 8-134, strobe
--     135-239"): {"role": "dimmer", "range": [8, 134], "off": 0} dims within the range
--     and sends "off" at level 0 (range [a, a] switches between a and "off");
--   * heads: [[1,2,3],[4,5,6],…], the 1-based channel positions of each head of a
--     multi-head mode (a 12-cell bar, a dimmer pack), so it can be patched per head;
--   * source: {"library", "file", "manufacturer", "model", "mode"} of an imported
--     model, unique, so a re-import updates the model instead of adding a copy.

CREATE OR REPLACE FUNCTION tau_channels_problem(channels jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    item jsonb;
    pos int := 0;
    role text;
    value jsonb;
    driven int := 0;
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
    FOR item IN SELECT elem FROM jsonb_array_elements(channels) AS e(elem) LOOP
        pos := pos + 1;
        value := NULL;
        IF jsonb_typeof(item) = 'string' THEN
            role := item #>> '{}';
        ELSIF jsonb_typeof(item) = 'object' AND jsonb_typeof(item -> 'role') = 'string' THEN
            role := item ->> 'role';
            IF EXISTS (SELECT 1 FROM jsonb_object_keys(item) AS k(key)
                        WHERE key NOT IN ('role', 'value', 'name', 'range', 'off')) THEN
                RETURN format('channel %s (%s): an object channel has only the keys "role", '
                              '"value" (for a fixed channel), "range" and "off" (for a dimmer) '
                              'and "name"', pos, item);
            END IF;
            IF (item ? 'range' OR item ? 'off') AND role <> 'dimmer' THEN
                RETURN format('channel %s (%s): only a dimmer has a "range" and "off"', pos, item);
            END IF;
            IF item ? 'range' AND NOT (
                   jsonb_typeof(item -> 'range') = 'array'
                   AND jsonb_array_length(item -> 'range') = 2
                   AND (SELECT bool_and(jsonb_typeof(v) = 'number'
                                        AND (v #>> '{}')::numeric BETWEEN 0 AND 255
                                        AND (v #>> '{}')::numeric = trunc((v #>> '{}')::numeric))
                          FROM jsonb_array_elements(item -> 'range') AS r(v))) THEN
                RETURN format('channel %s: "range" must be [value at 0 %%, value at 100 %%], '
                              'whole numbers from 0 to 255, got %s', pos, item -> 'range');
            END IF;
            IF item ? 'off' AND NOT (
                   jsonb_typeof(item -> 'off') = 'number'
                   AND (item ->> 'off')::numeric BETWEEN 0 AND 255
                   AND (item ->> 'off')::numeric = trunc((item ->> 'off')::numeric)) THEN
                RETURN format('channel %s: "off" must be a whole number from 0 to 255, got %s',
                              pos, item -> 'off');
            END IF;
            IF item ? 'off' AND NOT item ? 'range' THEN
                RETURN format('channel %s: "off" needs a "range"', pos);
            END IF;
            IF item ? 'name' AND jsonb_typeof(item -> 'name') <> 'string' THEN
                RETURN format('channel %s (%s): "name" must be text', pos, item);
            END IF;
            value := item -> 'value';
        ELSE
            RETURN format('channel %s (%s) must be a role such as "dimmer" or an object '
                          'such as {"role": "fixed", "value": 255}', pos, item);
        END IF;
        IF role = 'fixed' THEN
            IF value IS NULL OR jsonb_typeof(value) <> 'number'
               OR (value #>> '{}')::numeric NOT BETWEEN 0 AND 255
               OR (value #>> '{}')::numeric <> trunc((value #>> '{}')::numeric) THEN
                RETURN format('channel %s is fixed and needs a whole "value" from 0 to 255 '
                              '(the DMX value always sent), got %s: write '
                              '{"role": "fixed", "value": 255}', pos, coalesce(value::text, 'nothing'));
            END IF;
        ELSIF value IS NOT NULL THEN
            RETURN format('channel %s (%s): only a fixed channel has a "value"', pos, item);
        ELSIF NOT role = ANY (ARRAY[
            'dimmer', 'dimmer_fine', 'warm', 'warm_fine', 'cool', 'cool_fine', 'cct', 'cct_fine',
            'red', 'red_fine', 'green', 'green_fine', 'blue', 'blue_fine', 'white', 'white_fine',
            'amber', 'amber_fine', 'uv', 'uv_fine', 'lime', 'lime_fine', 'cyan', 'cyan_fine',
            'indigo', 'indigo_fine'])
        THEN
            RETURN format('unknown channel role %s: use dimmer, warm, cool, cct, red, green, blue, '
                          'white, amber, uv, lime, cyan or indigo, each optionally with _fine for '
                          'the 16-bit low byte, or {"role": "fixed", "value": 0-255}',
                          to_jsonb(role));
        ELSE
            driven := driven + 1;
        END IF;
    END LOOP;
    IF driven = 0 THEN
        RETURN 'every channel is fixed: a light needs at least one channel Tau drives '
               '(dimmer, warm, cool, cct or a colour)';
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION tau_heads_problem(heads jsonb, channels jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    head jsonb;
    n int := 0;
    pos jsonb;
    footprint int;
    seen int[] := '{}';
BEGIN
    IF heads IS NULL OR channels IS NULL OR jsonb_typeof(channels) <> 'array' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(heads) <> 'array' THEN
        RETURN format('heads must be a JSON array of heads, each a list of channel positions '
                      '(1 = the first channel of the mode), got %s', heads);
    END IF;
    footprint := jsonb_array_length(channels);
    FOR head IN SELECT elem FROM jsonb_array_elements(heads) AS e(elem) LOOP
        n := n + 1;
        IF jsonb_typeof(head) <> 'array' OR jsonb_array_length(head) = 0 THEN
            RETURN format('head %s must be a non-empty list of channel positions, got %s', n, head);
        END IF;
        FOR pos IN SELECT elem FROM jsonb_array_elements(head) AS e(elem) LOOP
            IF jsonb_typeof(pos) <> 'number'
               OR (pos #>> '{}')::numeric <> trunc((pos #>> '{}')::numeric)
               OR (pos #>> '{}')::numeric NOT BETWEEN 1 AND footprint THEN
                RETURN format('head %s lists channel %s, but the model has channels 1-%s',
                              n, pos, footprint);
            END IF;
            IF (pos #>> '{}')::int = ANY (seen) THEN
                RETURN format('head %s lists channel %s, which is already part of another head',
                              n, pos);
            END IF;
            seen := seen || (pos #>> '{}')::int;
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE FUNCTION tau_source_problem(source jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN source IS NULL THEN NULL
        WHEN jsonb_typeof(source) <> 'object'
          OR NOT source ?& ARRAY['library', 'manufacturer', 'model', 'mode']
          OR EXISTS (SELECT 1 FROM jsonb_each(source) AS e(key, value)
                      WHERE key NOT IN ('library', 'file', 'manufacturer', 'model', 'mode')
                         OR jsonb_typeof(value) <> 'string')
        THEN format('source must be {"library", "manufacturer", "model", "mode"} (and '
                    'optionally "file"), all text, got %s', source)
    END
$$;

ALTER TABLE fixture_models
    ADD COLUMN heads jsonb NOT NULL DEFAULT '[]'
        CONSTRAINT fixture_models_heads_valid CHECK (tau_heads_problem(heads, channels) IS NULL),
    ADD COLUMN source jsonb
        CONSTRAINT fixture_models_source_valid CHECK (tau_source_problem(source) IS NULL);

-- One model per library mode: a re-import finds and updates it.
CREATE UNIQUE INDEX fixture_models_source_key ON fixture_models
    ((source ->> 'manufacturer'), (source ->> 'model'), (source ->> 'mode'))
    WHERE source IS NOT NULL;

CREATE OR REPLACE FUNCTION tau_check_fixture_model() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    problem text := tau_channels_problem(NEW.channels);
    heads_problem text := tau_heads_problem(NEW.heads, NEW.channels);
    source_problem text := tau_source_problem(NEW.source);
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'fixture model %: %', quote_literal(NEW.model), problem
            USING ERRCODE = 'check_violation', TABLE = 'fixture_models',
                  CONSTRAINT = 'fixture_models_channels_valid';
    END IF;
    IF heads_problem IS NOT NULL THEN
        RAISE EXCEPTION 'fixture model %: %', quote_literal(NEW.model), heads_problem
            USING ERRCODE = 'check_violation', TABLE = 'fixture_models',
                  CONSTRAINT = 'fixture_models_heads_valid';
    END IF;
    IF source_problem IS NOT NULL THEN
        RAISE EXCEPTION 'fixture model %: %', quote_literal(NEW.model), source_problem
            USING ERRCODE = 'check_violation', TABLE = 'fixture_models',
                  CONSTRAINT = 'fixture_models_source_valid';
    END IF;
    RETURN NEW;
END
$$;
