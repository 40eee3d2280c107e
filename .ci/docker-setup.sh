#!/usr/bin/env bash
# Start a Docker engine from Debian's packages and build a python:3.11-slim
# stand-in base image without pulling from Docker Hub (unreachable here).
#
# Run as root on Debian 12 (bookworm).  Idempotent: a running engine and an
# existing base image are reused; the debootstrapped root filesystem is cached
# as a tarball ($CACHE) so a second run on the same machine skips debootstrap.
#
# Tags produced (all the same image):
#   python:3.11-slim       default BASE_IMAGE of the generated Dockerfiles
#   decompose/base:3.11    explicit name for `decompose build --base-image`
#
# Exit status: 0 when `docker info` answers and the base image exists;
# non-zero otherwise, with the relevant log tail printed.
set -euo pipefail

WORK=${WORK:-/tmp/decompose-docker}
CACHE=${DECOMPOSE_DOCKER_CACHE:-/var/cache/decompose-docker}
BASE_TAG=${BASE_TAG:-python:3.11-slim}
EXTRA_TAG=${EXTRA_TAG:-decompose/base:3.11}
ROOTFS_TAG=local/bookworm-python:3.11
SUITE=bookworm
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

# 3. Root filesystem image (debootstrap minbase + python3), cached as a tarball.
ROOTFS_TAR="$CACHE/rootfs-$SUITE-python3.tar.gz"
if ! docker image inspect "$ROOTFS_TAG" >/dev/null 2>&1; then
  if [ ! -s "$ROOTFS_TAR" ]; then
    ts "debootstrap --variant=minbase $SUITE from $MIRROR (log: $WORK/debootstrap.log)"
    rm -rf "$WORK/rootfs"
    if ! debootstrap --variant=minbase --include="$PACKAGES" \
           "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
      tail_log "$WORK/debootstrap.log"
      tail_log "$WORK/rootfs/debootstrap/debootstrap.log"
      die "debootstrap failed"
    fi
    # Keep the image small: no package caches, docs or man pages.
    rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"* \
           "$WORK/rootfs/usr/share/doc/"* "$WORK/rootfs/usr/share/man/"* \
           "$WORK/rootfs/usr/share/info/"* "$WORK/rootfs/var/log/"*.log
    ts "caching root filesystem in $ROOTFS_TAR"
    tar -C "$WORK/rootfs" --numeric-owner -czf "$ROOTFS_TAR.tmp" . && mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
    rm -rf "$WORK/rootfs"
  else
    ts "root filesystem from cache $ROOTFS_TAR"
  fi
  ts "docker import -> $ROOTFS_TAG"
  docker import -c 'ENV LANG=C.UTF-8' "$ROOTFS_TAR" "$ROOTFS_TAG" >/dev/null \
    || { rm -f "$ROOTFS_TAR"; die "docker import failed (cache removed; rerun)"; }
fi

# 4. Base image: the host's extra CAs (outbound HTTPS goes through an
#    intercepting proxy here) + python on PATH.  Rebuilt cheaply every run so
#    changed host certificates are picked up; the build cache makes it a no-op
#    otherwise.
ctx="$WORK/ctx-base"
rm -rf "$ctx"; mkdir -p "$ctx/certs"
cp /usr/local/share/ca-certificates/*.crt "$ctx/certs/" 2>/dev/null || true
touch "$ctx/certs/.keep"
cat >"$ctx/Dockerfile" <<EOF
FROM $ROOTFS_TAG
COPY certs/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null && ln -sf /usr/bin/python3 /usr/local/bin/python \\
 && rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
ENV PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \\
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \\
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
EOF
ts "building base image $BASE_TAG"
if ! docker build -q -t "$BASE_TAG" -t "$EXTRA_TAG" "$ctx" >"$WORK/base-build.log" 2>&1; then
  tail_log "$WORK/base-build.log"
  die "base image build failed"
fi

# 5. Smoke test: the base can run python and reach PyPI over TLS.
if ! docker run --rm "$BASE_TAG" python -c "import ssl, sys, venv; print(sys.version.split()[0])" \
      >"$WORK/smoke.log" 2>&1; then
  tail_log "$WORK/smoke.log"; die "base image cannot run python"
fi
ts "base python $(cat "$WORK/smoke.log")"
ts "ready in $(( $(date +%s) - START ))s: $(docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' "$BASE_TAG") (also $EXTRA_TAG)"
