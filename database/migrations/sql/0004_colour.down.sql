-- Undo revision 0004_colour: CTC scales and constant output.
-- Models whose channels use a CTC scale cannot go back: the older check refuses them.

ALTER TABLE fixture_models DROP COLUMN constant_output;

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
