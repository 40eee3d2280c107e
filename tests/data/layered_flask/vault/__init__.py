"""A layer-first Flask app (api/, lib/, models/ side by side), like privacyIDEA."""
