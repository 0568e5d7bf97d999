#!/bin/sh
# First start: system tables only (no test database, no anonymous users). Users and databases
# are made by Gasper's create-user command through `docker exec` as root (unix socket auth).
set -eu
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --datadir=/var/lib/mysql --auth-root-authentication-method=socket \
    --skip-test-db --skip-name-resolve >/dev/null
fi
unset MARIADB_PASSWORD MARIADB_USER MARIADB_DATABASE
exec mariadbd --datadir=/var/lib/mysql --bind-address=0.0.0.0 --port=3306 --skip-name-resolve "$@"
