import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petitions_site.settings")

app = Celery("petitions_site")
# Every CELERY_* Django setting configures the app (broker, beat schedule, ...).
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
