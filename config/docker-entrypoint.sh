#!/bin/sh
# Container entry point: migrate the database, then run the bridge as PID 1 so that
# SIGTERM from `docker stop` reaches it directly and pending state is flushed.
#
# TAU_MIGRATION_DATABASE_URL (optional) is the schema owner's DSN: with it the bridge
# itself can run as a least-privilege role (tau_daemon, config/roles.sql) that cannot
# alter or drop schema objects. TAU_MIGRATE_ON_START=0 skips the migration step.
set -eu

# Never run with a placeholder password from config/tau.env.example.
for value in "${TAU_DATABASE_URL:-}" "${TAU_MIGRATION_DATABASE_URL:-}" "${TAU_MQTT__PASSWORD:-}" "${TAU_HTTP__PASSWORD:-}"; do
    case "$value" in
        *change-me*)
            echo "tau: a password is still a placeholder (change-me-...) from config/tau.env.example: set real passwords in .env" >&2
            exit 78
            ;;
    esac
done

if [ "${TAU_MIGRATE_ON_START:-1}" = "1" ] && [ "${1:-}" = "tau" ] && [ "${2:-}" = "run" ]; then
    TAU_DATABASE_URL="${TAU_MIGRATION_DATABASE_URL:-${TAU_DATABASE_URL:-}}" tau db upgrade
fi

exec "$@"
