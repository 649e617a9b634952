-- Undo revision 0001_initial: drop every object it created (views first, then the
-- tables with their triggers, indexes and sequences, then the functions).
DROP VIEW IF EXISTS v_group_membership, v_fixture_status;
DROP TABLE IF EXISTS
    group_state, fixture_state, switches, switch_models, scene_values, scenes,
    group_hierarchy, group_fixtures, groups, fixtures, fixture_models, circadian_profiles;
DROP FUNCTION IF EXISTS
    tau_check_group_nesting(), tau_refit_model_fixtures(), tau_check_fixture_footprint(),
    tau_check_fixture_model(), tau_check_circadian_profile(), tau_notify_config(),
    tau_check_slug(), tau_touch_updated_at(), tau_action_map_problem(jsonb),
    tau_keyframes_problem(jsonb), tau_valid_rgb(jsonb),
    tau_channels_problem(jsonb), tau_slug_problem(text);
