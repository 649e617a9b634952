-- Tau schema, revision 0005_effects_circadian (frozen once released).
--
-- Effects: a fixture's running effect (and its seed) is kept with its state, so it
-- runs again after a restart; a scene value may name one. Circadian control per
-- profile: what a manual change takes over (`take_over`), when it is handed back
-- (`resume_after_s`), and the sleep level; per fixture, colour taken over separately
-- from brightness (`circadian_suspended` stays the brightness flag); per group, sleep.

ALTER TABLE fixture_state
    ADD COLUMN effect text
        CONSTRAINT fixture_state_effect_name CHECK (effect ~ '^[a-z][a-z_]{0,31}$'),
    ADD COLUMN effect_seed int,
    ADD COLUMN colour_suspended boolean NOT NULL DEFAULT false;

ALTER TABLE scene_values
    ADD COLUMN effect text
        CONSTRAINT scene_values_effect_name CHECK (effect ~ '^[a-z][a-z_]{0,31}$');

ALTER TABLE group_state
    ADD COLUMN sleep boolean NOT NULL DEFAULT false;

ALTER TABLE circadian_profiles
    ADD COLUMN take_over text NOT NULL DEFAULT 'changed'
        CONSTRAINT circadian_profiles_take_over_valid CHECK (take_over IN ('changed', 'all')),
    ADD COLUMN resume_after_s real
        CONSTRAINT circadian_profiles_resume_after_s_positive CHECK (resume_after_s > 0),
    ADD COLUMN sleep_brightness_pct real NOT NULL DEFAULT 1
        CONSTRAINT circadian_profiles_sleep_brightness_pct_range
        CHECK (sleep_brightness_pct > 0 AND sleep_brightness_pct <= 100),
    ADD COLUMN sleep_kelvin int
        CONSTRAINT circadian_profiles_sleep_kelvin_1000_20000
        CHECK (sleep_kelvin BETWEEN 1000 AND 20000);
