#!/usr/bin/env bash
# The databases besides POSTGRES_DB (coffre): the key store, kept apart from the store so
# that it can be backed up with a short retention, and Prefect's own. Run by the postgres
# image once, when it initialises an empty data directory (docker-entrypoint-initdb.d).
set -euo pipefail

for database in coffre_keys prefect; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set=database="$database" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'database', current_user)
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database')\gexec
SQL
done
