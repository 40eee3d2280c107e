from .base import *  # noqa: F401,F403

DEBUG = True
INSTALLED_APPS += ["accounts"]

if DEBUG:
    INSTALLED_APPS.append("debug_toolbar")
