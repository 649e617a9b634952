-- Fixture models: one per kind of DMX footprint Tau renders.
--
-- Loads after init.sql (docker-entrypoint-initdb.d order: 01-init.sql, 02-..., 03-...,
-- 04-...) or by hand: psql -v ON_ERROR_STOP=1 -d tau -f database/seeds/02-fixture-models.sql
-- Re-running it is harmless (ON CONFLICT on the natural keys: manufacturer + model, or
-- the library file + mode of a model with a `source`).
--
-- Names are real products; the model text names the DMX mode whose footprint the
-- `channels` list describes (check your unit's manual before patching it). Kelvin
-- limits are only meaningful for tunable white models (warm/cool or cct roles).
-- The two LED pars are what `tau fixtures import` makes of QLC+'s definitions
-- (qlcplus-data), with their `source`, so importing the library later updates them
-- instead of adding copies; the others have no QLC+ definition.

INSERT INTO fixture_models
    (manufacturer, model, channels, min_kelvin, max_kelvin, dimming_curve, min_level, source)
VALUES
    -- 8-bit dimmer: one channel of a 4-channel dimmer pack (incandescent / dimmable LED lamps)
    ('Showtec', 'DDP-405 MKII dimmer channel',
     '["dimmer"]', 2700, 3000, 'square', 0, NULL),
    -- 16-bit dimmer: single-channel constant-current LED driver in 16-bit mode
    ('eldoLED', 'SOLOdrive 560/A 16-bit',
     '["dimmer", "dimmer_fine"]', 2700, 3000, 'cie1931', 0.1, NULL),
    -- 8-bit tunable white: two outputs of a constant-voltage LED dimmer on a warm/cool strip
    ('Enttec', 'DIN-LED4XS tunable white pair',
     '["warm", "cool"]', 2700, 6500, 'linear', 1, NULL),
    -- 16-bit tunable white: warm and cool channels, each coarse + fine
    ('eldoLED', 'POWERdrive 562/A tunable white 16-bit',
     '["warm", "warm_fine", "cool", "cool_fine"]', 2200, 6500, 'cie1931', 0.2, NULL),
    -- intensity + colour temperature channel (DIM+CCT mode)
    ('LTECH', 'LT-902-DIN DIM+CCT',
     '["dimmer", "cct"]', 2700, 6500, '2.2', 2, NULL),
    -- RGB: 3-channel mode of an LED par
    ('Chauvet', 'SlimPAR 56 – 3-Ch',
     '["red", "green", "blue"]', 2700, 6500, 'linear', 0,
     '{"library": "qlcplus", "file": "Chauvet/Chauvet-SlimPAR-56.qxf", "manufacturer": "Chauvet", "model": "SlimPAR 56", "mode": "3-Ch"}'),
    -- RGBW: 4-channel mode of an LED par
    ('Stairville', 'LED Par56 MKII RGBW – RGBW',
     '["red", "green", "blue", "white"]', 2700, 6500, '2.2', 0,
     '{"library": "qlcplus", "file": "Stairville/Stairville-LED-PAR56-MKII-RGBW.qxf", "manufacturer": "Stairville", "model": "LED Par56 MKII RGBW", "mode": "RGBW"}')
-- either key: manufacturer + model (made by hand) or library file + mode (imported)
ON CONFLICT DO NOTHING;
