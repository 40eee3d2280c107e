"""A Django project with two apps whose models import each other through a five-module cycle."""
