-- Tau schema, revision 0006_library_identity (frozen once released).
--
-- Each library keeps its own rows. An imported model is one mode of one library's
-- file: source {"library", "file", "mode"} is what makes it one ("file" is the
-- definition's folder and name within its library, "american-dj/micro-wash.json",
-- wherever the library is installed). A QLC+ model and an Open Fixture Library one
-- may carry the same manufacturer, model and mode names: importing one library never
-- overwrites the other's rows. Names stay unique among the models made by hand.
--
-- A per-head model (`tau fixture add --heads each`) carries its parent's source and
-- "part" ("head", "head 2", "master"), so a re-import finds and refreshes it too.

CREATE OR REPLACE FUNCTION tau_source_problem(source jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN source IS NULL THEN NULL
        WHEN jsonb_typeof(source) <> 'object'
          OR NOT source ?& ARRAY['library', 'manufacturer', 'model', 'mode']
          OR EXISTS (SELECT 1 FROM jsonb_each(source) AS e(key, value)
                      WHERE key NOT IN ('library', 'file', 'manufacturer', 'model', 'mode', 'part')
                         OR jsonb_typeof(value) <> 'string')
        THEN format('source must be {"library", "manufacturer", "model", "mode"} (and '
                    'optionally "file" and "part"), all text, got %s', source)
    END
$$;

ALTER TABLE fixture_models DROP CONSTRAINT fixture_models_manufacturer_model_key;
CREATE UNIQUE INDEX fixture_models_manufacturer_model_key ON fixture_models (manufacturer, model)
    WHERE source IS NULL;

DROP INDEX fixture_models_source_key;

-- the file as its library names it, not where it was installed
UPDATE fixture_models
   SET source = jsonb_set(source, '{file}',
                          to_jsonb(regexp_replace(source ->> 'file', '^.*/([^/]+/[^/]+)$', '\1')))
 WHERE source ? 'file';

-- per-head models made before this revision: "<parent model> – head" and the like
UPDATE fixture_models AS h
   SET source = p.source || jsonb_build_object('part', substr(h.model, length(p.model) + 4))
  FROM fixture_models AS p
 WHERE h.source IS NULL
   AND p.source IS NOT NULL
   AND h.manufacturer = p.manufacturer
   AND left(h.model, length(p.model) + 3) = p.model || ' ' || chr(8211) || ' '
   AND substr(h.model, length(p.model) + 4) ~ '^(head|master|head [0-9]+)$';

CREATE UNIQUE INDEX fixture_models_source_key ON fixture_models
    ((source ->> 'library'), (coalesce(source ->> 'file', '')), (source ->> 'mode'),
     (coalesce(source ->> 'part', '')))
    WHERE source IS NOT NULL;
