"""The Jinja2 templates of `decompose generate` (package data; a real package so importlib.resources gives a filesystem path)."""
