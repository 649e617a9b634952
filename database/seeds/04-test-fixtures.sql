-- A believable two-storey home on two DMX universes, used by the demo
-- (`tau run --demo`) and by the tests, which rely on these exact slugs.
--
-- Needs 02-fixture-models.sql and 03-switch-models.sql first. References use
-- natural keys (slugs, manufacturer + model, profile names), never hard-coded ids,
-- and every insert is ON CONFLICT DO NOTHING, so re-running it is harmless.

-- Fixtures --------------------------------------------------------------------
INSERT INTO fixtures (name, slug, fixture_model_id, universe, start_channel)
SELECT v.name, v.slug,
       (SELECT m.id FROM fixture_models m
         WHERE m.manufacturer = v.manufacturer AND m.model = v.model),
       v.universe, v.start_channel
  FROM (VALUES
    -- universe 1: downstairs
    ('Kitchen ceiling',   'kitchen-ceiling',   'Showtec',    'DDP-405 MKII dimmer channel',           1,  1),
    ('Kitchen island',    'kitchen-island',    'Enttec',     'DIN-LED4XS tunable white pair',         1,  2),
    ('Kitchen counter',   'kitchen-counter',   'eldoLED',    'SOLOdrive 560/A 16-bit',                1,  4),
    ('Dining pendant',    'dining-pendant',    'eldoLED',    'POWERdrive 562/A tunable white 16-bit', 1, 10),
    ('Dining wall',       'dining-wall',       'LTECH',      'LT-902-DIN DIM+CCT',                    1, 14),
    ('Living ceiling',    'living-ceiling',    'eldoLED',    'SOLOdrive 560/A 16-bit',                1, 20),
    ('Living lamp',       'living-lamp',       'Enttec',     'DIN-LED4XS tunable white pair',         1, 22),
    ('Living strip',      'living-strip',      'Chauvet',    'SlimPAR 56 – 3-Ch',                     1, 30),
    ('Hallway downlight', 'hallway-downlight', 'Showtec',    'DDP-405 MKII dimmer channel',           1, 40),
    -- universe 2: upstairs and garden
    ('Bedroom ceiling',   'bedroom-ceiling',   'eldoLED',    'POWERdrive 562/A tunable white 16-bit', 2,  1),
    ('Bedroom bedside',   'bedroom-bedside',   'LTECH',      'LT-902-DIN DIM+CCT',                    2,  5),
    ('Bathroom mirror',   'bathroom-mirror',   'Enttec',     'DIN-LED4XS tunable white pair',         2, 10),
    ('Study desk',        'study-desk',        'eldoLED',    'SOLOdrive 560/A 16-bit',                2, 20),
    ('Garden spot',       'garden-spot',       'Stairville', 'LED Par56 MKII RGBW – RGBW',            2, 30)
  ) AS v(name, slug, manufacturer, model, universe, start_channel)
ON CONFLICT (slug) DO NOTHING;

-- Circadian profiles ------------------------------------------------------------
-- `daylight` follows the sun and needs TAU_LOCATION__LATITUDE/__LONGITUDE/__TIMEZONE,
-- so no group uses it out of the box; `clock-only` works anywhere.
INSERT INTO circadian_profiles (name, keyframes)
VALUES
    ('daylight', '[
        {"at": "06:30",         "brightness": 20,  "kelvin": 2700},
        {"at": "sunrise+00:30", "brightness": 100, "kelvin": 5000},
        {"at": "noon",          "brightness": 100, "kelvin": 5500},
        {"at": "sunset-01:00",  "brightness": 80,  "kelvin": 3500},
        {"at": "22:00",         "brightness": 30,  "kelvin": 2200}
    ]'),
    ('clock-only', '[
        {"at": "06:30", "brightness": 30,  "kelvin": 2700},
        {"at": "09:00", "brightness": 100, "kelvin": 5000},
        {"at": "13:00", "brightness": 100, "kelvin": 5500},
        {"at": "18:00", "brightness": 80,  "kelvin": 3500},
        {"at": "22:00", "brightness": 30,  "kelvin": 2200},
        {"at": "23:30", "brightness": 10,  "kelvin": 2000}
    ]')
ON CONFLICT (name) DO NOTHING;

-- Groups: house > downstairs | upstairs | garden > rooms ----------------------------
-- The rooms (is_room) are what Home Assistant suggests as each light's area.
INSERT INTO groups (name, slug, circadian_profile_id, is_room)
SELECT v.name, v.slug, (SELECT p.id FROM circadian_profiles p WHERE p.name = v.profile), v.room
  FROM (VALUES
    ('House',      'house',      NULL,         false),
    ('Downstairs', 'downstairs', NULL,         false),
    ('Upstairs',   'upstairs',   NULL,         false),
    ('Garden',     'garden',     NULL,         true),
    ('Kitchen',    'kitchen',    'clock-only', true),
    ('Dining',     'dining',     NULL,         true),
    ('Living',     'living',     NULL,         true),
    ('Hallway',    'hallway',    NULL,         true),
    ('Bedroom',    'bedroom',    'clock-only', true),
    ('Bathroom',   'bathroom',   NULL,         true),
    ('Study',      'study',      NULL,         true)
  ) AS v(name, slug, profile, room)
ON CONFLICT (slug) DO NOTHING;

INSERT INTO group_hierarchy (parent_group_id, child_group_id)
SELECT p.id, c.id
  FROM (VALUES
    ('house', 'downstairs'), ('house', 'upstairs'), ('house', 'garden'),
    ('downstairs', 'kitchen'), ('downstairs', 'dining'), ('downstairs', 'living'),
    ('downstairs', 'hallway'),
    ('upstairs', 'bedroom'), ('upstairs', 'bathroom'), ('upstairs', 'study')
  ) AS v(parent, child)
  JOIN groups p ON p.slug = v.parent
  JOIN groups c ON c.slug = v.child
ON CONFLICT DO NOTHING;

-- Each room holds the fixtures whose slug starts with the room's slug.
INSERT INTO group_fixtures (group_id, fixture_id)
SELECT g.id, f.id
  FROM groups g
  JOIN fixtures f ON f.slug LIKE g.slug || '-%'
 WHERE g.slug IN ('kitchen', 'dining', 'living', 'hallway', 'bedroom', 'bathroom', 'study',
                  'garden')
ON CONFLICT DO NOTHING;

-- Scenes ------------------------------------------------------------------------------
INSERT INTO scenes (name, slug, group_id)
VALUES
    ('Evening', 'evening', (SELECT id FROM groups WHERE slug = 'downstairs')),
    ('Movie',   'movie',   (SELECT id FROM groups WHERE slug = 'living'))
ON CONFLICT (slug) DO NOTHING;

INSERT INTO scene_values (scene_id, fixture_id, is_on, brightness, kelvin, color)
SELECT (SELECT id FROM scenes WHERE slug = v.scene),
       (SELECT id FROM fixtures WHERE slug = v.fixture),
       v.is_on, v.brightness, v.kelvin, v.color::jsonb
  FROM (VALUES
    ('evening', 'kitchen-ceiling',   false,   0, NULL, NULL),
    ('evening', 'kitchen-island',    true,  153, 2700, NULL),
    ('evening', 'kitchen-counter',   true,  102, NULL, NULL),
    ('evening', 'dining-pendant',    true,  178, 2700, NULL),
    ('evening', 'dining-wall',       true,  128, 3000, NULL),
    ('evening', 'living-ceiling',    false,   0, NULL, NULL),
    ('evening', 'living-lamp',       true,  153, 2700, NULL),
    ('evening', 'living-strip',      true,   77, NULL, '{"r": 255, "g": 120, "b": 40}'),
    ('evening', 'hallway-downlight', true,   64, NULL, NULL),
    ('movie',   'living-ceiling',    false,   0, NULL, NULL),
    ('movie',   'living-lamp',       true,   26, 2700, NULL),
    ('movie',   'living-strip',      true,   51, NULL, '{"r": 40, "g": 60, "b": 255}')
  ) AS v(scene, fixture, is_on, brightness, kelvin, color)
ON CONFLICT (scene_id, fixture_id) DO NOTHING;

-- Switches ----------------------------------------------------------------------------
INSERT INTO switches (name, slug, switch_model_id, target_group_id, input_topic)
VALUES
    -- a wall push button wired to a contact publisher: tau/switch/kitchen-wall/action
    ('Kitchen wall button', 'kitchen-wall',
     (SELECT id FROM switch_models WHERE manufacturer = 'Generic' AND model = 'Momentary push button'),
     (SELECT id FROM groups WHERE slug = 'kitchen'),
     NULL),
    -- an IKEA remote paired with Zigbee2MQTT as friendly name "bedroom-remote"
    ('Bedroom remote', 'bedroom-remote',
     (SELECT id FROM switch_models
       WHERE manufacturer = 'IKEA' AND model = 'TRADFRI remote control E1524/E1810'),
     (SELECT id FROM groups WHERE slug = 'bedroom'),
     'zigbee2mqtt/bedroom-remote/action')
ON CONFLICT (slug) DO NOTHING;
