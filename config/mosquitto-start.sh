#!/bin/sh
# Entry point of the `mqtt` service in docker-compose.yml: write the password file
# from the credentials in .env, then run mosquitto as PID 1. Nothing secret is kept
# in the repository or the image; the file lives in the mqtt-data volume.
set -eu

: "${MQTT_USERNAME:?set MQTT_USERNAME in .env (see config/tau.env.example)}"
: "${MQTT_PASSWORD:?set MQTT_PASSWORD in .env (see config/tau.env.example)}"

passwd=/mosquitto/data/passwd
umask 077
rm -f "$passwd"
mosquitto_passwd -c -b "$passwd" "$MQTT_USERNAME" "$MQTT_PASSWORD"
if [ -n "${MQTT_HA_USERNAME:-}" ] && [ -n "${MQTT_HA_PASSWORD:-}" ]; then
    mosquitto_passwd -b "$passwd" "$MQTT_HA_USERNAME" "$MQTT_HA_PASSWORD"
fi
chown mosquitto:mosquitto "$passwd"

exec mosquitto -c /mosquitto/config/mosquitto.conf
