-- Undo revision 0005_effects_circadian: running effects, scene effects, sleep mode and the
-- circadian take-over settings are forgotten (lights keep their level and colour).
ALTER TABLE circadian_profiles
    DROP COLUMN sleep_kelvin, DROP COLUMN sleep_brightness_pct,
    DROP COLUMN resume_after_s, DROP COLUMN take_over;
ALTER TABLE group_state DROP COLUMN sleep;
ALTER TABLE scene_values DROP COLUMN effect;
ALTER TABLE fixture_state
    DROP COLUMN colour_suspended, DROP COLUMN effect_seed, DROP COLUMN effect;
