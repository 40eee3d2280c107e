"""Settings shared by every environment (dev.py and prod.py import them all)."""

SECRET_KEY = "not-a-secret"
DEBUG = False

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
PROJECT_APPS = ["blog.apps.BlogConfig", "shop"]
INSTALLED_APPS = DJANGO_APPS + ["rest_framework"] + PROJECT_APPS

ROOT_URLCONF = "site_conf.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "db.sqlite3"}}
STATIC_URL = "static/"
