"""Celery workers: the app (``celery -A worker.celery_app worker``), tasks and dispatcher."""
