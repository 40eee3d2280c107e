#!/usr/bin/env bash
# Build a local stand-in for the official PostgreSQL image from Debian's
# postgresql-15 package (Docker Hub is unreachable here).  Called by
# .ci/docker-setup.sh once the engine answers; runs alone too.
#
# The image behaves like the official one for what the generated system uses:
#   POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB (or *_FILE secrets),
#   scripts in /docker-entrypoint-initdb.d (*.sh, *.sql, *.sql.gz) run once on
#   an empty data directory, data in /var/lib/postgresql/data (PGDATA),
#   user postgres = uid/gid 999 (any other uid works too, as with the official
#   image: nss_wrapper gives initdb a passwd entry), `pg_isready` on PATH,
#   CMD ["postgres"],
#   password (scram-sha-256) authentication for TCP clients.
#
# Tags: postgres:15 (what generated files name by default) and
# decompose/postgres:15.  Idempotent: an existing image whose build inputs
# are unchanged is kept (label io.decompose.pg-recipe = hash of this file).
set -euo pipefail

PG_TAG=${PG_TAG:-postgres:15}
PG_EXTRA_TAG=${PG_EXTRA_TAG:-decompose/postgres:15}
ROOTFS_TAG=${ROOTFS_TAG:-local/bookworm-python:3.11}
WORK=${WORK:-/tmp/decompose-docker}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
START=$(date +%s)
ts() { echo "[$(date +%T) +$(( $(date +%s) - START ))s] postgres-image: $*"; }
die() { echo "postgres-image: ERROR: $*" >&2; exit 1; }

recipe=$(sha256sum "$0" | cut -c1-16)
have=$(docker image inspect -f '{{ index .Config.Labels "io.decompose.pg-recipe" }}' "$PG_TAG" 2>/dev/null || true)
if [ "$have" = "$recipe" ]; then
  docker tag "$PG_TAG" "$PG_EXTRA_TAG"
  ts "image $PG_TAG present (recipe $recipe)"
  exit 0
fi
docker image inspect "$ROOTFS_TAG" >/dev/null 2>&1 || die "root filesystem image $ROOTFS_TAG missing (run .ci/docker-setup.sh)"

ctx="$WORK/ctx-postgres"
rm -rf "$ctx"; mkdir -p "$ctx"
cat >"$ctx/docker-entrypoint.sh" <<'ENTRY'
#!/bin/bash
# Entry point of the local postgres stand-in (the official image's contract).
set -Eeo pipefail

file_env() {  # file_env VAR [DEFAULT]: VAR or the content of the file named by VAR_FILE
  local var="$1" fileVar="${1}_FILE" def="${2:-}" val
  if [ -n "${!var:-}" ] && [ -n "${!fileVar:-}" ]; then
    echo "error: both $var and $fileVar are set (but are exclusive)" >&2; exit 1
  fi
  val="$def"
  if [ -n "${!var:-}" ]; then val="${!var}"
  elif [ -n "${!fileVar:-}" ]; then val="$(< "${!fileVar}")"; fi
  export "$var"="$val"
  unset "$fileVar"
}

if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

if [ "$1" = 'postgres' ]; then
  mkdir -p "$PGDATA"
  if [ "$(id -u)" = '0' ]; then
    chown postgres:postgres "$PGDATA" 2>/dev/null || true
    chmod 700 "$PGDATA" 2>/dev/null || true
    mkdir -p /var/run/postgresql && chown postgres:postgres /var/run/postgresql && chmod 3777 /var/run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$BASH_SOURCE" "$@"
  fi
  chmod 700 "$PGDATA" 2>/dev/null || true
  if [ ! -s "$PGDATA/PG_VERSION" ]; then
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS
    if [ -z "$POSTGRES_PASSWORD" ] && [ "${POSTGRES_HOST_AUTH_METHOD:-}" != 'trust' ]; then
      echo "error: database is uninitialized and superuser password is not specified." >&2
      echo "       set POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE), or POSTGRES_HOST_AUTH_METHOD=trust" >&2
      exit 1
    fi
    # an arbitrary uid (Kubernetes runAsUser) has no passwd entry: initdb needs one
    if ! getent passwd "$(id -u)" >/dev/null 2>&1; then
      NSS_WRAPPER_PASSWD=$(mktemp); NSS_WRAPPER_GROUP=$(mktemp)
      echo "postgres:x:$(id -u):$(id -g):PostgreSQL:$PGDATA:/bin/false" >"$NSS_WRAPPER_PASSWD"
      echo "postgres:x:$(id -g):" >"$NSS_WRAPPER_GROUP"
      export LD_PRELOAD=libnss_wrapper.so NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    fi
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
           --auth-host=scram-sha-256 $POSTGRES_INITDB_ARGS -D "$PGDATA" >/dev/null
    rm -f "$pwfile"
    if [ -n "${NSS_WRAPPER_PASSWD:-}" ]; then
      rm -f "$NSS_WRAPPER_PASSWD" "$NSS_WRAPPER_GROUP"; unset LD_PRELOAD NSS_WRAPPER_PASSWD NSS_WRAPPER_GROUP
    fi
    printf '\nhost all all all %s\n' "${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}" >>"$PGDATA/pg_hba.conf"
    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    export PGPASSWORD="$POSTGRES_PASSWORD"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p ${PGPORT:-5432}" -w start >/dev/null
    psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
    if [ "$POSTGRES_DB" != 'postgres' ]; then
      "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" -q <<<"CREATE DATABASE :\"db\" ;"
    fi
    psql+=(--dbname "$POSTGRES_DB")
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh) if [ -x "$f" ]; then echo "$0: running $f"; "$f"; else echo "$0: sourcing $f"; . "$f"; fi ;;
        *.sql) echo "$0: running $f"; "${psql[@]}" -f "$f" ;;
        *.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${psql[@]}" ;;
        *) [ -e "$f" ] && echo "$0: ignoring $f" ;;
      esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    unset PGPASSWORD
    echo "PostgreSQL init process complete; ready for start up."
  fi
fi
exec "$@"
ENTRY
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $ROOTFS_TAG
ARG MIRROR=$MIRROR
RUN groupadd -r -g 999 postgres && useradd -r -u 999 -g 999 -d /var/lib/postgresql -s /bin/bash postgres \\
 && mkdir -p /etc/postgresql-common/createcluster.d \\
 && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.d/no-main.conf \\
 && echo "deb \$MIRROR bookworm main" > /etc/apt/sources.list \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 libnss-wrapper >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* \\
 && mkdir -p /var/run/postgresql /var/lib/postgresql/data /docker-entrypoint-initdb.d \\
 && chown -R postgres:postgres /var/run/postgresql /var/lib/postgresql && chmod 3777 /var/run/postgresql
COPY docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 755 /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data PG_MAJOR=15 LANG=C.UTF-8
LABEL io.decompose.pg-recipe=$recipe
VOLUME /var/lib/postgresql/data
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
ts "building $PG_TAG from Debian's postgresql-15 (log: $WORK/postgres-build.log)"
if ! docker build -q -t "$PG_TAG" -t "$PG_EXTRA_TAG" "$ctx" >"$WORK/postgres-build.log" 2>&1; then
  tail -n 40 "$WORK/postgres-build.log" >&2
  die "postgres image build failed"
fi
ts "ready: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$PG_TAG") ($(docker run --rm --entrypoint postgres "$PG_TAG" --version))"
