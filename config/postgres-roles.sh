#!/bin/sh
# Run once by the postgres image on an empty volume (mounted as
# /docker-entrypoint-initdb.d/05-roles.sh, after the schema and the model catalogue):
# creates the least-privilege roles of config/roles.sql and sets their passwords from
# TAU_OWNER_PASSWORD (migrations, the demo seeds) and TAU_DAEMON_PASSWORD (the bridge).
set -eu

: "${TAU_OWNER_PASSWORD:?set TAU_OWNER_PASSWORD in .env (see config/tau.env.example)}"
: "${TAU_DAEMON_PASSWORD:?set TAU_DAEMON_PASSWORD in .env (see config/tau.env.example)}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -f "${TAU_ROLES_SQL:-/tau/roles.sql}"
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner_password="$TAU_OWNER_PASSWORD" -v daemon_password="$TAU_DAEMON_PASSWORD" <<'SQL'
ALTER ROLE tau_owner PASSWORD :'owner_password';
ALTER ROLE tau_daemon PASSWORD :'daemon_password';
SQL
