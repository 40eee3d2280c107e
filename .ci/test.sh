#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs the test dependencies and
# what the tests need (a Docker engine where one can be started, kubectl),
# then runs pytest.  README.md's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
ts() { echo "[$(date +%T)] $*"; }

ts "pip install -e .[test]"
python -m pip install -q --disable-pip-version-check -e '.[test]'

ts "tools for the validators and Docker tests"
bash .ci/setup-tools.sh

ts "pytest"
exec python -m pytest -ra "$@"
