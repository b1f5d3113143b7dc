"""The demo's Celery broker: kombu's ``filesystem://`` transport, safe on a full disk.

kombu's transport (5.x) writes a message straight under its final ``*.msg`` name, and the
worker reads any ``*.msg`` it finds without waiting for the writer. When the disk fills during
a write (ENOSPC), an empty or cut-short file stays in the queue; the worker's next poll fails to
decode it and the worker stops ("Unrecoverable error: JSONDecodeError", kombu issue #1551), so
no email leaves until someone restarts it. A worker polling while a message is being written
can read it half-written in the same way.

Here a message is written under a name the reader skips and renamed into place (``os.replace``,
atomic within the folder): a reader sees the whole message or nothing, and a failed write leaves
nothing behind. A message that does not decode anyway (left by another writer) is logged and
skipped rather than stopping the worker. Selected in the demo's settings by
``CELERY_BROKER_TRANSPORT``.
"""

import contextlib
import logging
import os
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger("petitions")

#: Appended to a message's name while it is written: kombu's reader takes only names ending ``.<queue>.msg``.
PARTIAL_SUFFIX = ".partial"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put a message on ``queue``: written aside, then renamed to the name the reader looks for."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        path = os.path.join(self.data_folder_out, name)
        partial = path + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {path!r} to directory") from exc

    def _get(self, queue):
        """The next whole message on ``queue``; one that does not decode is logged and skipped."""
        # Each failed decode has taken its file out of the folder: one pass over what is there.
        for _ in range(len(os.listdir(self.data_folder_in)) + 1):
            try:
                return super()._get(queue)
            except ValueError as exc:  # JSON or UTF-8 that was cut short
                logger.error("Skipped a broker message on %r that is not whole: %s", queue, exc)
        raise Empty()  # more arrived meanwhile: the next poll takes them


class Transport(filesystem.Transport):
    Channel = Channel
