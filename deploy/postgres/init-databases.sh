#!/usr/bin/env bash
# Runs once, when the PostgreSQL container initialises an empty data directory
# (/docker-entrypoint-initdb.d). One database per service, owned by that service's role, and no
# other role may connect to it: a service cannot read another service's tables even by mistake.
# Passwords come from the environment (docker-compose.yml gives dev defaults).
# No `set -u`: should the entrypoint source this file instead of running it, -u would leak
# into its own script.
set -eo pipefail

create_service_database() {
  local name="$1" password="$2"
  # psql variables (:"ident", :'literal') quote the name and password, whatever they contain.
  psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
-- PUBLIC gets CONNECT and TEMP on every new database by default: take them back.
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
}

create_service_database enrollment "${ENROLLMENT_DB_PASSWORD:?}"
create_service_database review "${REVIEW_DB_PASSWORD:?}"
create_service_database registry "${REGISTRY_DB_PASSWORD:?}"
create_service_database compensation "${COMPENSATION_DB_PASSWORD:?}"

# The maintenance database stays for the superuser only.
psql --no-psqlrc -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -c 'REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;'
