"""One blueprint per resource: ``<plural>/routes.py`` (views) and ``<plural>/schemas.py``."""
