#!/bin/sh
# The `preflight` service of docker-compose.yml: every other service waits for it, so
# the stack does not start (and PostgreSQL is never initialised) with a password that
# is still a placeholder from config/tau.env.example. It gets only the passwords.
set -eu

bad=0
for name in $(env | sed -n 's/^\([A-Z_][A-Z0-9_]*PASSWORD\)=.*/\1/p' | sort); do
    eval "value=\${$name}"
    case "$value" in
        change-me*)
            echo "tau: $name in .env is still the placeholder '$value': set a long random password, e.g. \`openssl rand -hex 24\`" >&2
            bad=1
            ;;
    esac
    case "$name" in
        TAU_*_PASSWORD)
            # These two go into a database URL: keep them to URL-safe characters.
            case "$value" in
                *[!A-Za-z0-9_-]*)
                    echo "tau: $name may only contain letters, digits, - and _ (it goes into a database URL)" >&2
                    bad=1
                    ;;
            esac
            ;;
    esac
done
if [ "$bad" -ne 0 ]; then
    echo "tau: refusing to start; edit .env, then \`docker compose up -d\` again" >&2
    exit 1
fi
echo "tau: passwords set"
