"""The ``decompose`` command line: wiring and presentation only.

``app`` lives in :mod:`decompose.cli.common`; each command group is one module
that registers its commands on it.  Importing this package imports them all, in
the order ``decompose --help`` lists them.
"""

from decompose.cli.common import app
from decompose.cli import analyze, check, data, generate, plan, run, verify  # noqa: E402,F401  (register commands)

__all__ = ["app"]
