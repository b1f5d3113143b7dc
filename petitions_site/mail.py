"""The demo's email backend: anymail's pipeline, ending in .eml files.

Messages pass through anymail like any ESP's (tags, metadata, per-recipient
status), then each is written to ``EMAIL_FILE_PATH`` as one ``.eml`` file a
person can open in a mail program.

A file that cannot be written (a full disk) is the demo's "ESP unavailable":
nothing is left behind (the file is written aside and renamed into place
once whole) and anymail's ``AnymailAPIError`` is raised, which the sender
treats as a temporary failure: the email stays owed and is retried. The same
happens while the disk is nearly full (under ``min_free_bytes``): the demo's
SQLite database is on that disk, and an email written where the database
then has no room to record it is sent again at every retry.
"""

import errno
import itertools
import os
import shutil
import time
from pathlib import Path

from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailRecipientStatus
from django.conf import settings

_sequence = itertools.count()


class EmlFileEmailBackend(AnymailTestBackend):
    esp_name = "EmlFile"
    #: Below this much free space no email is written: room for the database to record it (its
    #: rollback journal and new pages take a few pages; an email under 100 KB).
    min_free_bytes = 1 << 20

    def __init__(self, *args, file_path=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def post_to_esp(self, payload, message):
        message_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{next(_sequence):04d}"
        params = payload.get_params()
        mime = message.message()
        if params.get("tags"):
            mime["X-Tags"] = ", ".join(params["tags"])
        for key, value in (params.get("metadata") or {}).items():
            mime[f"X-Metadata-{key}"] = str(value)
        path = self.directory / f"{message_id}.eml"
        partial = path.with_name(f".{path.name}.partial")  # not *.eml: no half-written email to open
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(self.directory).free
            if free < self.min_free_bytes:
                raise OSError(errno.ENOSPC, f"the disk is nearly full ({free} bytes free)")
            partial.write_bytes(mime.as_bytes())
            partial.replace(path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise AnymailAPIError(
                f"Could not write {path.name}: {exc}", email_message=message, payload=payload, backend=self
            ) from exc
        status = AnymailRecipientStatus(message_id=message_id, status="sent")
        return {"recipient_status": dict.fromkeys(payload.recipient_emails, status)}
