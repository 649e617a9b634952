-- The demo's stage corner in the garden (`tau run --demo` loads every seed file in
-- name order; the tests load 02-04 only): fixtures as a lighting library describes
-- them, i.e. what `tau fixtures import /usr/share/qlcplus/fixtures` makes of QLC+'s
-- definitions (with their `source`, so a later import updates these rows).
--
-- * an RGBW par in its 8-channel mode: red, green, blue, white, then macros, strobe
--   and mode held at "off / no strobe / RGB" (0) and a master dimmer that carries
--   the level (the colours stay at full scale: the par multiplies them itself);
-- * a 4-cell RGB bar in its 14-channel mode: four RGB heads, strobe held at 0, a
--   master dimmer. It is patched as one light (every cell alike); `tau fixture add
--   … --heads each` would make one light per cell plus the master.
--
-- Needs 04-test-fixtures.sql first (the `garden` group). Re-running it is harmless.

INSERT INTO fixture_models
    (manufacturer, model, channels, heads, min_kelvin, max_kelvin, dimming_curve, min_level,
     source)
VALUES
    ('Stairville', 'LED Par56 MKII RGBW – Full',
     '["red", "green", "blue", "white", {"role": "fixed", "value": 0, "name": "Macros"}, {"role": "fixed", "value": 0, "name": "Strobe / Fade speed"}, {"role": "fixed", "value": 0, "name": "Mode"}, "dimmer"]',
     '[]', 2700, 6500, '2.2', 0,
     '{"library": "qlcplus", "file": "Stairville/Stairville-LED-PAR56-MKII-RGBW.qxf", "manufacturer": "Stairville", "model": "LED Par56 MKII RGBW", "mode": "Full"}'),
    ('Stairville', 'CLB4 RGB Compact LED Bar 4 – 14 Channel',
     '["red", "green", "blue", "red", "green", "blue", "red", "green", "blue", "red", "green", "blue", {"role": "fixed", "value": 0, "name": "Strobe"}, "dimmer"]',
     '[[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]]', 2700, 6500, '2.2', 0,
     '{"library": "qlcplus", "file": "Stairville/Stairville-CLB4-RGB-Compact-LED-Bar-4.qxf", "manufacturer": "Stairville", "model": "CLB4 RGB Compact LED Bar 4", "mode": "14 Channel"}')
-- one model per library file and mode (the import's identity)
ON CONFLICT ((source ->> 'library'), (coalesce(source ->> 'file', '')), (source ->> 'mode'),
             (coalesce(source ->> 'part', ''))) WHERE source IS NOT NULL DO NOTHING;

INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel)
SELECT v.name, v.slug,
       (SELECT m.id FROM fixture_models m
         WHERE m.manufacturer = v.manufacturer AND m.model = v.model
           AND m.source ->> 'library' = 'qlcplus'),
       v.universe, v.start_channel
  FROM (VALUES
    ('Garden par', 'garden-par', 'Stairville', 'LED Par56 MKII RGBW – Full',               2, 40),
    ('Garden bar', 'garden-bar', 'Stairville', 'CLB4 RGB Compact LED Bar 4 – 14 Channel', 2, 50)
  ) AS v(name, slug, manufacturer, model, universe, start_channel)
ON CONFLICT (slug) DO NOTHING;

INSERT INTO group_fixtures (group_id, fixture_id)
SELECT g.id, f.id
  FROM groups g, fixtures f
 WHERE g.slug = 'garden' AND f.slug IN ('garden-par', 'garden-bar')
ON CONFLICT DO NOTHING;
