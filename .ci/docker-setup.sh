#!/usr/bin/env bash
# Start a Docker engine from Debian's packages and build python:3.X-slim
# stand-in base images without pulling from Docker Hub (unreachable here).
#
# Run as root on Debian 12 (bookworm).  Idempotent: a running engine and an
# existing base image are reused; each debootstrapped root filesystem is cached
# as a tarball ($CACHE) so a second run on the same machine skips debootstrap.
#
# Images, one per Debian release (each release has one python3):
#   python:3.11-slim, decompose/base:3.11   from bookworm (Debian 12)
#   python:3.13-slim, decompose/base:3.13   from trixie (Debian 13)
#   python:3.14-slim, decompose/base:3.14   from forky (Debian testing)
#   postgres:15, decompose/postgres:15      from bookworm's postgresql-15 (.ci/postgres-image.sh)
# No Debian release has 3.12: for a monolith that needs >= 3.12, `decompose
# build` takes the lowest local python:3.X-slim satisfying it (docs/run.md).
# BASE_SUITES (default "bookworm:3.11 trixie:3.13 forky:3.14") chooses what is built.
#
# Exit status: 0 when `docker info` answers and every base image exists;
# non-zero otherwise, with the relevant log tail printed.
set -euo pipefail

WORK=${WORK:-/tmp/decompose-docker}
CACHE=${DECOMPOSE_DOCKER_CACHE:-/var/cache/decompose-docker}
BASE_SUITES=${BASE_SUITES:-bookworm:3.11 trixie:3.13 forky:3.14}
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
MIRROR=${MIRROR:-$(grep -rhoE "https?://[^ ]+" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
                   | grep -E "/debian/?$" | head -1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
export DEBIAN_FRONTEND=noninteractive

START=$(date +%s)
ts() { echo "[$(date +%T) +$(( $(date +%s) - START ))s] docker-setup: $*"; }
die() { echo "docker-setup: ERROR: $*" >&2; exit 1; }
tail_log() { [ -f "$1" ] && { echo "---- last lines of $1 ----" >&2; tail -n "${2:-40}" "$1" >&2; echo "----" >&2; }; return 0; }

[ "$(id -u)" = 0 ] || die "must run as root (starts dockerd, runs debootstrap)"
mkdir -p "$WORK" "$CACHE"

# 1. Packages (skipped when already installed).
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
if [ "${#need[@]}" -gt 0 ]; then
  ts "apt-get install ${need[*]}"
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >"$WORK/apt.log" 2>&1 \
    || { tail_log "$WORK/apt.log"; die "apt-get install ${need[*]} failed"; }
else
  ts "packages present (dockerd, debootstrap)"
fi

# 2. Engine: reuse a responsive one, else (re)start ours.
wait_docker() {  # $1 = seconds
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    docker info >/dev/null 2>&1 && return 0
    if [ -n "${DOCKERD_PID:-}" ] && ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      return 1   # daemon died: no point waiting any longer
    fi
    sleep 0.5
  done
  return 1
}

if docker info >/dev/null 2>&1; then
  ts "engine already running"
else
  if [ -f "$WORK/dockerd.pid" ]; then
    old=$(cat "$WORK/dockerd.pid" 2>/dev/null || true)
    # only a live dockerd counts: the pid may be stale or recycled by another program
    if [ -n "$old" ] && grep -qa dockerd "/proc/$old/cmdline" 2>/dev/null; then
      ts "dockerd (pid $old) exists but does not answer yet; waiting"
      DOCKERD_PID=$old
      if ! wait_docker 60 && kill -0 "$old" 2>/dev/null; then
        tail_log "$WORK/dockerd.log"; die "dockerd pid $old runs but does not answer; stop it and rerun"
      fi
      unset DOCKERD_PID
    fi
    docker info >/dev/null 2>&1 || rm -f "$WORK/dockerd.pid"   # stale pidfile from a previous run
  fi
  start_dockerd() {
    # The exec root is run-time state (sockets, pid files, containerd's) of a
    # daemon that is gone: a stale one makes containerd hang on start.
    rm -rf "$WORK/exec"
    [ -S /var/run/docker.sock ] && rm -f /var/run/docker.sock
    nohup dockerd --data-root "$WORK/data" --exec-root "$WORK/exec" \
          --pidfile "$WORK/dockerd.pid" --storage-driver overlay2 \
          >>"$WORK/dockerd.log" 2>&1 </dev/null &
    DOCKERD_PID=$!
    wait_docker 90
  }
  if ! docker info >/dev/null 2>&1; then
    if pgrep -x dockerd >/dev/null 2>&1 || pgrep -x containerd >/dev/null 2>&1; then
      ts "another dockerd/containerd is running: waiting up to 20 s for it to exit"
      for _ in $(seq 1 40); do pgrep -x dockerd >/dev/null 2>&1 || pgrep -x containerd >/dev/null 2>&1 || break; sleep 0.5; done
    fi
    ts "starting dockerd (overlay2, data in $WORK/data, log $WORK/dockerd.log)"
    if ! start_dockerd; then
      tail_log "$WORK/dockerd.log" 30
      if [ -n "${DOCKERD_PID:-}" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        kill "$DOCKERD_PID" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.5; done
      fi
      ts "dockerd did not come up; retrying once with a clean exec root"
      if ! start_dockerd; then
        tail_log "$WORK/dockerd.log" 60
        die "dockerd did not answer within 90 s, twice (log: $WORK/dockerd.log)"
      fi
    fi
  fi
fi
ts "engine: $(docker version --format 'server {{.Server.Version}}, API {{.Server.APIVersion}}' 2>/dev/null)"

# 3.-5. One base image per Debian release: root filesystem (debootstrap minbase
# + python3, cached as a tarball), the host's extra CAs (outbound HTTPS goes
# through an intercepting proxy here) + python on PATH, then a smoke test.
# Rebuilt cheaply every run so changed host certificates are picked up; the
# build cache makes it a no-op otherwise.
# Unmount what an interrupted debootstrap left mounted below $1 (proc, sys): rm -rf cannot remove it.
unmount_below() {
  local m
  for m in $(awk -v p="$1/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
}

base_image() {  # $1 = Debian suite, $2 = its Python (3.X)
  local SUITE=$1 PY=$2
  local BASE_TAG="python:$PY-slim" EXTRA_TAG="decompose/base:$PY" ROOTFS_TAG="local/$SUITE-python:$PY"
  local ROOTFS_TAR="$CACHE/rootfs-$SUITE-python3.tar.gz" ROOTFS="$WORK/rootfs-$SUITE"
  if ! docker image inspect "$ROOTFS_TAG" >/dev/null 2>&1; then
    if [ ! -s "$ROOTFS_TAR" ]; then
      ts "debootstrap --variant=minbase $SUITE from $MIRROR (log: $WORK/debootstrap-$SUITE.log)"
      unmount_below "$ROOTFS"
      rm -rf "$ROOTFS"
      # bookworm's debootstrap has no script for releases after trixie: they bootstrap like sid
      local script=/usr/share/debootstrap/scripts/$SUITE
      [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
      if ! debootstrap --variant=minbase --include="$PACKAGES" \
             "$SUITE" "$ROOTFS" "$MIRROR" "$script" >"$WORK/debootstrap-$SUITE.log" 2>&1; then
        tail_log "$WORK/debootstrap-$SUITE.log"
        tail_log "$ROOTFS/debootstrap/debootstrap.log"
        die "debootstrap $SUITE failed"
      fi
      [ -x "$ROOTFS/usr/bin/python$PY" ] || die "$SUITE has no python$PY (no $ROOTFS/usr/bin/python$PY): fix BASE_SUITES"
      # Keep the image small: no package caches, docs or man pages.
      rm -rf "$ROOTFS/var/cache/apt/archives/"*.deb "$ROOTFS/var/lib/apt/lists/"* \
             "$ROOTFS/usr/share/doc/"* "$ROOTFS/usr/share/man/"* \
             "$ROOTFS/usr/share/info/"* "$ROOTFS/var/log/"*.log
      ts "caching root filesystem in $ROOTFS_TAR"
      unmount_below "$ROOTFS"
      tar -C "$ROOTFS" --numeric-owner -czf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
      rm -rf "$ROOTFS"
    else
      ts "root filesystem from cache $ROOTFS_TAR"
    fi
    ts "docker import -> $ROOTFS_TAG"
    docker import -c 'ENV LANG=C.UTF-8' "$ROOTFS_TAR" "$ROOTFS_TAG" >/dev/null \
      || { rm -f "$ROOTFS_TAR"; die "docker import failed (cache removed; rerun)"; }
  fi
  local ctx="$WORK/ctx-base-$SUITE"
  rm -rf "$ctx"; mkdir -p "$ctx/certs"
  cp /usr/local/share/ca-certificates/*.crt "$ctx/certs/" 2>/dev/null || true
  touch "$ctx/certs/.keep"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $ROOTFS_TAG
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null && ln -sf /usr/bin/python3 /usr/local/bin/python \\
 && rm -f /usr/lib/python$PY/EXTERNALLY-MANAGED
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \\
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
DOCKERFILE
  ts "building base image $BASE_TAG"
  if ! docker build -q -t "$BASE_TAG" -t "$EXTRA_TAG" "$ctx" >"$WORK/base-build-$SUITE.log" 2>&1; then
    tail_log "$WORK/base-build-$SUITE.log"
    die "base image $BASE_TAG build failed"
  fi
  # Smoke test: the base runs its python, with ssl and venv, of the version its tag names.
  if ! docker run --rm "$BASE_TAG" python -c "import ssl, sys, venv; print(sys.version.split()[0])" \
        >"$WORK/smoke-$SUITE.log" 2>&1; then
    tail_log "$WORK/smoke-$SUITE.log"; die "base image $BASE_TAG cannot run python"
  fi
  local got; got=$(cat "$WORK/smoke-$SUITE.log")
  case "$got" in "$PY".*) ;; *) die "base image $BASE_TAG runs python $got, not $PY";; esac
  ts "base $BASE_TAG: python $got, $(docker image ls --format '{{.Size}}' "$BASE_TAG") (also $EXTRA_TAG)"
}

for pair in $BASE_SUITES; do
  base_image "${pair%%:*}" "${pair##*:}"
done
# The generated system's database server: postgres:15 from bookworm's postgresql-15
# (.ci/postgres-image.sh; kept when its recipe is unchanged). POSTGRES_IMAGE=0 skips it.
if [ "${POSTGRES_IMAGE:-1}" != 0 ]; then
  WORK="$WORK" MIRROR="$MIRROR" ROOTFS_TAG=local/bookworm-python:3.11 bash "$(dirname "$0")/postgres-image.sh" \
    || die "postgres image build failed"
fi
ts "ready in $(( $(date +%s) - START ))s: $(docker image ls --format '{{.Repository}}:{{.Tag}}' python | sort | tr '\n' ' ')"
