#!/usr/bin/env bash
# Install and start what the test suite needs beyond Python packages.
# Each step is skipped (with a loud message) where it cannot run, e.g. not root.
set -uo pipefail
cd "$(dirname "$0")/.."
ts() { echo "[$(date +%T)] $*"; }
