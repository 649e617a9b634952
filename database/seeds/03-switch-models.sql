-- Switch models: what each input device emits (`actions`) and what Tau does with it
-- (`action_map`, action -> intent). A switch's own `mapping` overrides single entries.
--
-- Intents: toggle, on, off, full, dim_start (hold; direction alternates each hold),
-- dim_up, dim_down, dim_stop, step:<signed 0-255 units>, rotate (uses the delta of
-- `rotate:<delta>`), scene:<slug>, scene_index:<n> (n-th scene of the target group
-- by id), none.
--
-- The Zigbee remotes use Zigbee2MQTT's action names (zigbee2mqtt.io/devices/<model>).
-- Re-running it is harmless (ON CONFLICT on manufacturer + model).

INSERT INTO switch_models (manufacturer, model, kind, actions, action_map)
VALUES
    -- A push button on a GPIO/contact input. It may publish raw press/release, which
    -- Tau classifies into single/double/hold/release itself, or the classified names.
    ('Generic', 'Momentary push button', 'momentary',
     '["press", "release", "single", "double", "hold"]',
     '{"single": "toggle", "double": "full", "hold": "dim_start", "release": "dim_stop"}'),
    -- A latching (rocker) switch on a contact input: its position is the light's state.
    ('Generic', 'Latching rocker switch', 'latching',
     '["on", "off"]',
     '{"on": "on", "off": "off"}'),
    -- A rotary encoder with push: rotate:<delta> steps brightness, a press toggles.
    ('Generic', 'Rotary encoder with push', 'rotary',
     '["rotate", "single"]',
     '{"rotate": "rotate", "single": "toggle"}'),
    -- A 4-button scene keypad: button n recalls the n-th scene of the target group.
    ('Generic', '4-button scene keypad', 'keypad',
     '["button_1", "button_2", "button_3", "button_4"]',
     '{"button_1": "scene_index:1", "button_2": "scene_index:2", "button_3": "scene_index:3", "button_4": "scene_index:4"}'),
    -- IKEA TRADFRI remote control (5 buttons)
    ('IKEA', 'TRADFRI remote control E1524/E1810', 'remote',
     '["toggle", "toggle_hold", "brightness_up_click", "brightness_down_click", "brightness_up_hold", "brightness_up_release", "brightness_down_hold", "brightness_down_release", "arrow_left_click", "arrow_right_click", "arrow_left_hold", "arrow_right_hold", "arrow_left_release", "arrow_right_release"]',
     '{"toggle": "toggle", "toggle_hold": "full", "brightness_up_click": "step:32", "brightness_down_click": "step:-32", "brightness_up_hold": "dim_up", "brightness_up_release": "dim_stop", "brightness_down_hold": "dim_down", "brightness_down_release": "dim_stop", "arrow_left_click": "scene_index:1", "arrow_right_click": "scene_index:2", "arrow_left_hold": "none", "arrow_right_hold": "none", "arrow_left_release": "none", "arrow_right_release": "none"}'),
    -- IKEA STYRBAR remote control N2 (4 buttons)
    ('IKEA', 'STYRBAR remote control E2001/E2002', 'remote',
     '["on", "off", "brightness_move_up", "brightness_move_down", "brightness_stop", "arrow_left_click", "arrow_right_click", "arrow_left_hold", "arrow_right_hold", "arrow_left_release", "arrow_right_release"]',
     '{"on": "on", "off": "off", "brightness_move_up": "dim_up", "brightness_move_down": "dim_down", "brightness_stop": "dim_stop", "arrow_left_click": "scene_index:1", "arrow_right_click": "scene_index:2", "arrow_left_hold": "none", "arrow_right_hold": "none", "arrow_left_release": "none", "arrow_right_release": "none"}'),
    -- IKEA RODRET wireless dimmer (2 buttons)
    ('IKEA', 'RODRET wireless dimmer E2201', 'remote',
     '["on", "off", "brightness_move_up", "brightness_move_down", "brightness_stop"]',
     '{"on": "on", "off": "off", "brightness_move_up": "dim_up", "brightness_move_down": "dim_down", "brightness_stop": "dim_stop"}'),
    -- Philips Hue dimmer switch (v1)
    ('Philips', 'Hue dimmer switch 324131092621/RWL021', 'remote',
     '["on_press", "on_press_release", "on_hold", "on_hold_release", "up_press", "up_press_release", "up_hold", "up_hold_release", "down_press", "down_press_release", "down_hold", "down_hold_release", "off_press", "off_press_release", "off_hold", "off_hold_release"]',
     '{"on_press": "on", "on_press_release": "none", "on_hold": "full", "on_hold_release": "none", "up_press": "step:25", "up_press_release": "none", "up_hold": "dim_up", "up_hold_release": "dim_stop", "down_press": "step:-25", "down_press_release": "none", "down_hold": "dim_down", "down_hold_release": "dim_stop", "off_press": "off", "off_press_release": "none", "off_hold": "none", "off_hold_release": "none"}'),
    -- Aqara wireless mini switch (one button; Z2M classifies the presses)
    ('Aqara', 'Wireless mini switch WXKG11LM', 'remote',
     '["single", "double", "triple", "quadruple", "hold", "release"]',
     '{"single": "toggle", "double": "full", "triple": "none", "quadruple": "none", "hold": "dim_start", "release": "dim_stop"}')
ON CONFLICT (manufacturer, model) DO NOTHING;
