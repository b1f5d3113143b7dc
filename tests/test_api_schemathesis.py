"""Schemathesis against the live app: no 5xx, and every answer as the OpenAPI schema says.

Runs the ``schemathesis`` CLI (generated valid and invalid requests, from
the served schema) against pytest-django's live server on 127.0.0.1,
bounded by examples per operation and a time budget so it stays well under
a minute. Path ids are drawn mostly from real petitions (a schemathesis
dictionary), so detail, count, sign and OSDI operations reach their real
answers, not only 404s.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cms import reconcile

from .factories import PetitionPageFactory, SignatureFactory, lead_token, petition_body
from .test_browser import _leave_the_migrated_data_behind  # noqa: F401 (module fixture: restores migrated rows)

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    # Schemathesis sends control characters in paths; the page cache warns about such keys.
    pytest.mark.filterwarnings("ignore::django.core.cache.backends.base.CacheKeyWarning"),
]

PHASES = "examples,coverage,fuzzing,stateful"
#: CI's bound; a deeper local run: PETITIONS_SCHEMATHESIS_EXAMPLES=60 PETITIONS_SCHEMATHESIS_SECONDS=900
#: (and pytest --timeout=1500).
MAX_EXAMPLES = int(os.environ.get("PETITIONS_SCHEMATHESIS_EXAMPLES", "15"))
TIME_BUDGET_SECONDS = int(os.environ.get("PETITIONS_SCHEMATHESIS_SECONDS", "15"))


#: Refusals that depend on state or secrets, not on the request's shape, stated as expected answers
#: (every check still runs on every operation): a closed petition answers 410 whatever is sent,
#: before its body is read; a token or cursor is a signed string, valid in shape and not ours (400).
ANSWERS_NO_SCHEMA_CAN_PREDICT = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "410", "429", "5xx"]
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "410", "415", "422", "428", "429", "5xx"]
[[operations]]
include-operation-id = ["signatures_confirm", "petitions_signatures_export"]
checks.positive_data_acceptance.expected-statuses = [
  "2xx", "3xx", "400", "401", "403", "404", "409", "410", "429", "5xx"
]
"""


def schemathesis_command():
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        message = "schemathesis is not installed (pip install -r requirements-test.txt)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_server, index_page, official, settings, tmp_path, django_capture_on_commit_callbacks
):
    command = schemathesis_command()
    petition = PetitionPageFactory(parent=index_page, body=petition_body([official.pk]))
    closed = PetitionPageFactory(parent=index_page, closed=True)
    SignatureFactory.create_batch(3, petition=petition, verified=True, country="GB")
    with django_capture_on_commit_callbacks(execute=True):
        reconcile.reconcile_counts([petition.pk])
    from django.contrib.auth.models import User

    admin = User.objects.create_superuser("lead", "lead@example.org", "not-used")
    token = lead_token(admin)  # every scope: the CSV and delivery status are exercised too
    # Every request comes from 127.0.0.1: raise its sign rate limits so signing stays reachable.
    settings.PETITIONS = {**settings.PETITIONS, "RATE_LIMIT": 10**6, "RATE_LIMIT_SUSTAINED": 10**6}

    config = tmp_path / "schemathesis.toml"
    config.write_text(
        "[parameters]\n"
        '"path.id" = { dictionary = "petitions", probability = 0.8 }\n'
        "[dictionaries.petitions]\n"
        f"values = [{petition.pk}, {closed.pk}]\n" + ANSWERS_NO_SCHEMA_CAN_PREDICT
    )
    result = subprocess.run(  # noqa: S603 (our own command line)
        [
            command,
            "--config-file",
            str(config),
            "run",
            f"{live_server.url}/api/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--max-time",
            str(TIME_BUDGET_SECONDS),
            "--phases",
            PHASES,
            "--seed",
            "20240501",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--header",
            f"Authorization: Bearer {token}",
        ],
        capture_output=True,
        text=True,
        timeout=TIME_BUDGET_SECONDS + 30,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )

    report = os.environ.get("PETITIONS_SCHEMATHESIS_REPORT")
    if report:  # the deep run's summary, kept in bench/results
        Path(report).write_text(result.stdout)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
