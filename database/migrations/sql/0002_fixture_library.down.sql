-- Undo revision 0002_fixture_library. Refused while a model uses what 0001 cannot
-- express (new roles, fixed channels, object channels), since 0001 would reject it.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM fixture_models m, jsonb_array_elements(m.channels) AS e(elem)
                WHERE jsonb_typeof(elem) <> 'string'
                   OR NOT (elem #>> '{}') = ANY (ARRAY[
            'dimmer', 'dimmer_fine', 'warm', 'warm_fine', 'cool', 'cool_fine', 'cct', 'cct_fine',
            'red', 'red_fine', 'green', 'green_fine', 'blue', 'blue_fine', 'white', 'white_fine']))
    THEN
        RAISE EXCEPTION 'cannot downgrade below 0002_fixture_library: some fixture models use '
                        'channel roles revision 0001 does not know (amber, uv, lime, cyan, '
                        'indigo, fixed); delete those models first'
            USING ERRCODE = 'check_violation';
    END IF;
END
$$;

DROP INDEX fixture_models_source_key;
ALTER TABLE fixture_models DROP COLUMN source, DROP COLUMN heads;
DROP FUNCTION tau_source_problem(jsonb), tau_heads_problem(jsonb, jsonb);

CREATE OR REPLACE FUNCTION tau_channels_problem(channels jsonb) RETURNS text
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

CREATE OR REPLACE FUNCTION tau_check_fixture_model() RETURNS trigger
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
