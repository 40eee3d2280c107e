import logging

from flask import current_app, has_app_context

log = logging.getLogger(__name__)


def greeting(name):
    """The first line of the file ``SALUTATIONS`` names (a testing config's data file), else "hello"."""
    log.info("greeting %s", name)
    path = current_app.config.get("SALUTATIONS") if has_app_context() else None
    if path:
        with open(path, encoding="utf-8") as f:
            return f"{f.readline().strip()} {name}"
    return f"hello {name}"
