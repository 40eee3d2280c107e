#!/usr/bin/env bash
# Install checkov (pinned) into its own virtualenv and print the path of its
# executable.  checkov pins networkx<3, which decompose cannot use, so it must
# not share decompose's environment.  Idempotent: reuses an existing venv.
# Used by tests/test_generate_validators.py when checkov is not found.
set -euo pipefail
VERSION="${CHECKOV_VERSION:-3.3.30}"
VENV="${DECOMPOSE_CHECKOV_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/decompose-ci/checkov}"
if [ ! -x "$VENV/bin/checkov" ] || ! "$VENV/bin/pip" show checkov 2>/dev/null | grep -q "^Version: $VERSION$"; then
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q --disable-pip-version-check "checkov==$VERSION" >&2
fi
echo "$VENV/bin/checkov"
