-- Undo revision 0006_library_identity: one model per manufacturer and name again.
-- Refused (nothing changes) while two libraries hold models of the same name.

DROP INDEX fixture_models_source_key;
UPDATE fixture_models SET source = NULL WHERE source ? 'part';
DROP INDEX fixture_models_manufacturer_model_key;
ALTER TABLE fixture_models
    ADD CONSTRAINT fixture_models_manufacturer_model_key UNIQUE (manufacturer, model);
CREATE UNIQUE INDEX fixture_models_source_key ON fixture_models
    ((source ->> 'manufacturer'), (source ->> 'model'), (source ->> 'mode'))
    WHERE source IS NOT NULL;

CREATE OR REPLACE FUNCTION tau_source_problem(source jsonb) RETURNS text
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
