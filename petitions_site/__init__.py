"""The demo site that hosts the petition apps (cms, petition_blocks, workers).

Its Celery app is imported here so that ``@shared_task`` tasks bind to it
whenever Django starts (Celery "First steps with Django").
"""

from .celery import app as celery_app

__all__ = ["celery_app"]
