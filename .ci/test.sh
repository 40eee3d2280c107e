#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the test dependencies and
# what the tests need (checkov in its own venv, a Docker engine with a locally
# built base image where one can be started), then runs pytest.
# This is README.md's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
ts() { echo "[$(date +%T)] $*"; }
loud() { printf '\n!!!!!!!!!! %s\n\n' "$*" >&2; }

ts "pip install -e .[test]"
python -m pip install -q --disable-pip-version-check -e '.[test]'

# The CLI as users install it: a wheel in a fresh virtualenv.  Subprocess CLI
# tests run this console script (DECOMPOSE_CLI, tests/cli_command.py), so a
# packaging defect (a missing subpackage or template) fails CI.
ts "wheel -> fresh venv (the installed CLI the tests run)"
WHEEL_DIR=$(mktemp -d)
python -m pip wheel -q --disable-pip-version-check --no-deps -w "$WHEEL_DIR" .
CLI_VENV="${DECOMPOSE_CLI_VENV:-/tmp/decompose-cli-venv}"
rm -rf "$CLI_VENV" && python -m venv "$CLI_VENV"
"$CLI_VENV/bin/python" -m pip install -q --disable-pip-version-check "$WHEEL_DIR"/decompose-*.whl
export DECOMPOSE_CLI="$CLI_VENV/bin/decompose"
ts "installed CLI: $("$DECOMPOSE_CLI" --version)"

ts "checkov (own virtualenv: it pins networkx<3)"
CHECKOV=$(bash .ci/install-checkov.sh) && ts "checkov at $CHECKOV"

# Base images the tests need: 3.11 (the default) and 3.13 (a monolith requiring a newer Python);
# python:3.14-slim (forky, the slowest to bootstrap) only when FlaskBB runs end to end.
if [ -z "${BASE_SUITES:-}" ]; then
  BASE_SUITES="bookworm:3.11 trixie:3.13"
  case " ${DECOMPOSE_E2E_APPS:-flaskr flaskbb} " in *" flaskbb "*) BASE_SUITES="$BASE_SUITES forky:3.14" ;; esac
  export BASE_SUITES
fi

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  ts "Docker engine and base images ($BASE_SUITES)"
  if bash .ci/docker-setup.sh; then
    export DECOMPOSE_REQUIRE_DOCKER=1   # from here on a Docker test that cannot reach the engine fails
  else
    loud "the Docker engine could not be started: Docker tests will be SKIPPED (see the log above)"
  fi
else
  loud "not root on a Debian/apt machine: no Docker engine is started; Docker tests run only if one already answers"
fi

# The real monoliths tests/test_corpus_e2e.py runs end to end with Docker
# (DECOMPOSE_E2E_APPS, default "flaskr flaskbb"; FlaskBB's venv needs python3.12:
# pyenv's; its images python:3.14-slim, from forky): sdists from PyPI and their virtualenvs, cached in
# ~/.cache/decompose-corpus, so only a new machine downloads and builds them.
export DECOMPOSE_E2E_APPS="${DECOMPOSE_E2E_APPS:-flaskr flaskbb}"
ts "corpus apps $DECOMPOSE_E2E_APPS (benchmarks/corpus.py; cached)"
CORPUS_LOG=$(mktemp)
# shellcheck disable=SC2086
if python -m benchmarks.corpus --apps $DECOMPOSE_E2E_APPS >"$CORPUS_LOG" 2>&1; then
  grep -v '^WARNING' "$CORPUS_LOG" | tail -n 4 || true
else
  grep -v '^WARNING' "$CORPUS_LOG" | tail -n 30 >&2 || true
  loud "fetching the corpus apps failed: tests/test_corpus_e2e.py will fail (see above)"
fi

ts "pytest"
exec python -m pytest -ra -p no:cacheprovider "$@"
