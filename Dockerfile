# syntax=docker/dockerfile:1
# One image for the four services; the command picks the service and the process:
#   docker run IMAGE registry serve      (HTTP API + outbox relay + consumers)
#   docker run IMAGE registry migrate    (Alembic upgrade head; idempotent)
#   docker run IMAGE registry relay | consume
ARG PYTHON_IMAGE=python:3.11-slim-trixie

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.8
# Bytecode compiled at build time (the runtime filesystem is read-only); copy rather than
# hard-link out of the cache mount; use the image's Python, never a downloaded one.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install "uv==${UV_VERSION}"

WORKDIR /app

# Third-party dependencies first, from the lockfile alone, so this layer survives code changes.
# Only the four services and what they need (the event runtime, the service platform): the
# development stack (libs/devstack: embedded PostgreSQL and broker, demo, chaos, benchmarks,
# test plugin) stays out of the image.
COPY pyproject.toml uv.lock ./
COPY libs/events/pyproject.toml libs/events/
COPY libs/platform/pyproject.toml libs/platform/
# The development stack's metadata only, so that the workspace resolves; none of it installed.
COPY libs/devstack/pyproject.toml libs/devstack/
COPY services/enrollment/pyproject.toml services/enrollment/
COPY services/review/pyproject.toml services/review/
COPY services/registry/pyproject.toml services/registry/
COPY services/compensation/pyproject.toml services/compensation/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-workspace \
        --package mc-enrollment --package mc-review --package mc-registry --package mc-compensation

# Then the workspace packages. They stay editable installs on purpose: each service finds its
# Alembic migrations next to its source (services/<name>/migrations), outside the wheel.
COPY libs/events/ libs/events/
COPY libs/platform/ libs/platform/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev \
        --package mc-enrollment --package mc-review --package mc-registry --package mc-compensation \
 && /app/.venv/bin/python -m compileall -q libs services

# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="mc-backbone" \
      org.opencontainers.image.description="Educator micro-credential services: enrollment, review, registry, compensation"

RUN groupadd --system --gid 10001 mc \
 && useradd --system --uid 10001 --gid mc --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin mc

# Data folders owned by the service user: a named volume mounted there starts as a copy of the
# image's folder, so it is writable by 10001 from the first start (enrollment's local evidence
# store; the development identity provider's keys).
RUN mkdir -p /var/lib/mc/evidence /var/lib/mc-idp \
 && chown 10001:10001 /var/lib/mc/evidence /var/lib/mc-idp

# Same path as in the builder: the virtualenv and the editable installs point at /app.
# Owned by root and not writable by the service user.
COPY --from=builder /app /app

ENV PATH="/app/.venv/bin:${PATH}" \
    VIRTUAL_ENV=/app/.venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /app
USER 10001:10001
EXPOSE 8001 8002 8003 8004

# No HEALTHCHECK here: the port depends on the service; docker-compose.yml and the Kubernetes
# probes check /healthz and /readyz per service.
ENTRYPOINT ["python", "-m"]
CMD ["enrollment", "--help"]
