#!/bin/sh
# Writes the one user PgBouncer knows (appgrant, with the database's
# password, which it also uses to log in to PostgreSQL) and starts it.
set -eu
: "${DB_PASSWORD:?set DB_PASSWORD}"
# userlist.txt quotes with double quotes; a double quote inside is doubled.
printf '"appgrant" "%s"\n' "$(printf '%s' "$DB_PASSWORD" | sed 's/"/""/g')" > /run/pgbouncer/userlist.txt
exec pgbouncer /etc/pgbouncer/pgbouncer.ini
