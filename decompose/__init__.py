"""decompose: turn a Python monolith into microservices."""

__version__ = "0.1.0"
