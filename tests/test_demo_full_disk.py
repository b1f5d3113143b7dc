"""The embedded demo on a full disk: nothing half-written, nothing marked sent that was not.

faults/disk_full.py runs the whole demo on a small filesystem; these cases pin the two defects
it found without mounting anything: a write cut short by ENOSPC is simulated by a file whose
``write`` stores half its bytes, then raises.
"""

import builtins
import errno
import os
import pathlib
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from anymail.exceptions import AnymailAPIError
from anymail.message import AnymailMessage
from kombu import Connection
from kombu.exceptions import ChannelError

from cms import emails
from cms.models import Signature
from petitions_site import broker, mail

from .factories import SignatureFactory

ROOT = Path(__file__).resolve().parent.parent


class HalfThenFull:
    """A file on a disk that fills up halfway through the first write."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def open_on_a_full_disk(path, mode="r", *args, **kwargs):
    return HalfThenFull(builtins.open(path, mode, *args, **kwargs))


@pytest.fixture
def queue(tmp_path):
    """A queue in a folder of this test's own (a name of its own too: kombu keeps exchanges per process)."""
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "control_folder": str(tmp_path)}
    with Connection("filesystem://", transport="petitions_site.broker:Transport", transport_options=options) as conn:
        simple = conn.SimpleQueue(f"demo-{uuid.uuid4().hex}")
        yield simple
        simple.close()


def test_a_message_the_full_disk_cut_short_leaves_no_file_in_the_queue(queue, tmp_path, monkeypatch):
    monkeypatch.setattr(broker, "open", open_on_a_full_disk, raising=False)

    with pytest.raises(ChannelError):
        queue.put({"task": "one"})

    assert list(tmp_path.glob("*.msg*")) == []
    monkeypatch.undo()
    queue.put({"task": "two"})
    assert queue.get(timeout=5).payload == {"task": "two"}


def test_the_worker_skips_a_message_left_empty_and_reads_the_next(queue, tmp_path, caplog):
    # Named to sort before every real message (whose names start with a clock reading, 1-9): read first.
    (tmp_path / f"00_left-by-a-full-disk.{queue.queue.name}.msg").write_bytes(b"")
    (tmp_path / f"01_cut-short.{queue.queue.name}.msg").write_bytes(b'{"body": "eyJ0YXNr')
    queue.put({"task": "whole"})

    assert queue.get(timeout=5).payload == {"task": "whole"}
    assert list(tmp_path.glob("*.msg")) == []
    assert caplog.text.count("not whole") == 2


def test_the_embedded_demo_uses_the_broker_that_renames_whole_messages(tmp_path):
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    environ.update(DEBUG="1", PETITIONS_VAR_DIR=str(tmp_path))
    code = "from petitions_site.celery import app; print(type(app.connection_for_write().transport).__module__)"
    result = subprocess.run(  # noqa: S603 (our own command line)
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["petitions_site.broker"]


@pytest.fixture
def disk_full_for_mail(monkeypatch, tmp_path):
    """The demo's mail folder is on a disk that fills halfway through every email."""
    write_bytes = pathlib.Path.write_bytes

    def write_half(path, data):
        if tmp_path not in path.parents:
            return write_bytes(path, data)
        write_bytes(path, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(pathlib.Path, "write_bytes", write_half)
    return monkeypatch


def test_an_email_the_full_disk_cut_short_is_a_temporary_failure_and_leaves_no_file(tmp_path, disk_full_for_mail):
    backend = mail.EmlFileEmailBackend(file_path=tmp_path)
    message = AnymailMessage(subject="Confirm", body="Link", from_email="p@example.org", to=["ada@example.org"])

    with pytest.raises(AnymailAPIError, match="No space left on device"):
        backend.send_messages([message])

    assert list(tmp_path.iterdir()) == []


def test_no_email_is_written_on_a_nearly_full_disk_where_the_database_could_not_record_it(tmp_path, monkeypatch):
    backend = mail.EmlFileEmailBackend(file_path=tmp_path)
    message = AnymailMessage(subject="Confirm", body="Link", from_email="p@example.org", to=["ada@example.org"])
    disk_usage = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda path: disk_usage(path)._replace(free=8192))

    with pytest.raises(AnymailAPIError, match="nearly full"):
        backend.send_messages([message])

    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_a_verification_email_the_full_disk_could_not_hold_stays_owed_and_goes_once_space_is_back(
    petition, settings, tmp_path, disk_full_for_mail
):
    settings.EMAIL_BACKEND = "petitions_site.mail.EmlFileEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    signature = SignatureFactory(petition=petition, email="ada@example.org")

    assert emails.send_verification_emails([signature.pk]) == ([], [signature.pk])
    signature.refresh_from_db()
    assert signature.email_sent_at is None
    assert signature.email_status == Signature.EmailStatus.NONE
    assert list(tmp_path.iterdir()) == []

    disk_full_for_mail.undo()
    assert emails.send_verification_emails([signature.pk]) == ([signature.pk], [])
    signature.refresh_from_db()
    assert signature.email_status == Signature.EmailStatus.SENT
    assert len(list(tmp_path.glob("*.eml"))) == 1
