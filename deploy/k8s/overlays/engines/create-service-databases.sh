#!/bin/sh
# Runs once, when PostgreSQL initialises an empty volume: one login and one database per service, each login
# owning only its own database (least privilege). Passwords come from the portico-engines Secret via the env.
set -eu
for service in identity catalog ordering loyalty reporting; do
  password_var="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password="$(printenv "$password_var")"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v login="$service" -v password="$password" <<'SQL'
CREATE ROLE :"login" LOGIN PASSWORD :'password';
CREATE DATABASE :"login" OWNER :"login";
REVOKE ALL ON DATABASE :"login" FROM PUBLIC;
SQL
done
