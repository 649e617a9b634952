# syntax=docker/dockerfile:1
# Tau bridge image: `docker compose up` builds it (see docker-compose.yml).
#
# The source tree is kept at /app in the repository layout (bridge/, database/)
# so `tau db upgrade` and `alembic upgrade head` from /app/bridge find the
# Alembic environment and database/migrations exactly as in a checkout.

ARG PYTHON_IMAGE=python:3.12-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
RUN python -m venv /opt/tau
# Dependencies first (cached while only the code changes), then the package itself.
COPY pyproject.toml README.md ./
COPY bridge/ bridge/
RUN /opt/tau/bin/pip install --no-cache-dir --editable .

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="tau" \
      org.opencontainers.image.description="DMX512 lighting bridge: PostgreSQL model, MQTT API, Home Assistant discovery" \
      org.opencontainers.image.licenses="MIT"
# Non-root; `dialout` owns /dev/ttyUSB* so a mapped Enttec widget is writable.
RUN groupadd --system --gid 10001 tau \
 && useradd --system --uid 10001 --gid tau --groups dialout \
        --home-dir /var/lib/tau --create-home --shell /usr/sbin/nologin tau
COPY --from=build /opt/tau /opt/tau
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bridge/ bridge/
COPY database/ database/
COPY --chmod=0755 config/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/opt/tau/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TAU_DATA_DIR=/var/lib/tau \
    TAU_HTTP__PORT=8080
# Numeric, so Kubernetes runAsNonRoot and the host can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8080
# /healthz answers 200 only while the broker is connected and every output is open.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('TAU_HTTP__PORT', '8080'), timeout=4)"]
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["tau", "run", "--no-view"]
