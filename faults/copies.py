"""Every Celery task message published several times with the same task id (fault scenario 9).

A broker may deliver a message more than once (a redelivery after a lost ack,
a publish retried after a timeout); a task must then do its work once. Loaded
only by faults/settings.py when FAULTS_TASK_COPIES is above 1, in the web,
worker and beat processes alike, so every publish (the outbox wake-up, the
batches, the retries, beat's schedule) goes out that many times.
"""

from celery.app.task import Task
from celery.utils import uuid


def install(copies: int):
    if getattr(Task.apply_async, "faults_copies", None):
        return
    publish_once = Task.apply_async

    def apply_async(self, args=None, kwargs=None, task_id=None, **options):
        task_id = task_id or uuid()
        result = None
        for _ in range(copies):
            result = publish_once(self, args, kwargs, task_id=task_id, **options)
        return result

    apply_async.faults_copies = copies
    Task.apply_async = apply_async
