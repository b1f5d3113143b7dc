"""The sign's upsert, built once per model, stores what the model-instance path stored.

``UpsertStatement`` prepares each column from the values without a model instance (the reference,
``params_via_instance``, is how ``Model.save`` prepares them), and leaves out the consent wording's
CTE while this process knows that wording is stored: same rows, same wordings, and the same
statement for a new address as for a known one.
"""

import pytest
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cms import signing
from cms.models import ConsentWording, Signature

from .test_uniform_answers import shape

pytestmark = [pytest.mark.services, pytest.mark.django_db]

WORDING = "share_with_officials: Pass my name on"
SUBMISSIONS = [
    {"first_name": "Ada", "email": "ADA@Example.org ", "feed_display": "first"},
    {
        "first_name": "Grace",
        "last_name": "Hopper <b>",
        "email": "grace@example.org",
        "country": "FR",
        "postcode": "75001",
        "show_in_feed": True,
        "feed_name": "first_initial",
        "share_with_officials": True,
        "share_postcode_with_officials": True,
        "opt_in_updates": True,
        "consent_text": WORDING,
    },
]


def values_of(petition, data, ip="203.0.113.9"):
    """The values ``sign_petition`` hands the upsert."""
    now = timezone.now()
    values = {key: data[key] for key in Signature.SIGNER_FIELDS if data.get(key) not in (None, "")}
    values.update(
        petition_id=petition.pk,
        email_normalized=signing.normalize_email(values["email"]),
        source="widget",
        status=Signature.Status.PENDING,
        created_at=now,
        email_requested_at=now,
        ip_address=ip,
    )
    if data.get("consent_text"):
        values.update(consent_version=signing.consent_version(data["consent_text"]), consent_given_at=now)
    return values


@pytest.mark.parametrize("data", SUBMISSIONS)
@pytest.mark.parametrize("ip", ["203.0.113.9", "2001:db8::1", None])
def test_the_columns_are_prepared_as_a_model_instance_prepares_them(petition, data, ip):
    statement = signing.UpsertStatement(Signature)
    values = values_of(petition, data, ip)

    assert not statement.needs_instance  # the default model takes the fast path
    assert statement.params(values) == statement.params_via_instance(values)


def row(email):
    signature = Signature.objects.get(email_normalized=signing.normalize_email(email))
    return {
        name: value
        for name, value in model_to_dict(signature).items()
        if name not in ("id", "email", "email_normalized", "created_at", "email_requested_at", "consent_given_at")
    }


@pytest.mark.parametrize("data", SUBMISSIONS)
def test_a_sign_stores_the_row_the_model_instance_path_stores(petition, data, monkeypatch):
    signing.sign_petition(petition, {**data, "email": "fast@example.org"}, source="widget", ip="203.0.113.9")
    monkeypatch.setattr(signing.UpsertStatement, "params", signing.UpsertStatement.params_via_instance)
    signing.sign_petition(petition, {**data, "email": "slow@example.org"}, source="widget", ip="203.0.113.9")

    assert row("fast@example.org") == row("slow@example.org")
    # and a re-sign replaces the pending signer's fields alike
    signing.sign_petition(petition, {**SUBMISSIONS[1], "email": "slow@example.org", "first_name": "Again"})
    monkeypatch.undo()
    signing.sign_petition(petition, {**SUBMISSIONS[1], "email": "fast@example.org", "first_name": "Again"})
    assert row("fast@example.org") == row("slow@example.org")
    assert row("fast@example.org")["first_name"] == "Again"


@pytest.fixture
def sign_statements(django_capture_on_commit_callbacks, monkeypatch):
    """Sign, run what waits for the commit, and return the statements sent on the signatures."""
    monkeypatch.setattr(signing, "queue_verification_email", lambda signature_id: None)  # the worker's work

    def _sign(petition, email, wording=WORDING):
        with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
            signing.sign_petition(petition, {**SUBMISSIONS[0], "email": email, "consent_text": wording})
        return [query["sql"] for query in queries if Signature._meta.db_table in query["sql"]]

    return _sign


def test_a_wording_this_process_saw_stored_is_not_sent_again(petition, settings, sign_statements):
    settings.PETITIONS = {**settings.PETITIONS, "LOCAL_CACHE_SECONDS": 60}
    table = ConsentWording._meta.db_table

    first = sign_statements(petition, "one@example.org")
    second = sign_statements(petition, "two@example.org")
    other = sign_statements(petition, "three@example.org", wording=WORDING + " and my town")

    assert table in first[0] and table not in second[0] and table in other[0]
    assert set(ConsentWording.objects.values_list("text", flat=True)) == {WORDING, WORDING + " and my town"}
    versions = set(Signature.objects.values_list("consent_version", flat=True))
    assert versions == set(ConsentWording.objects.values_list("hash", flat=True))


def test_a_rolled_back_sign_leaves_its_wording_to_the_next_sign(
    petition, settings, sign_statements, django_capture_on_commit_callbacks
):
    settings.PETITIONS = {**settings.PETITIONS, "LOCAL_CACHE_SECONDS": 60}

    # The capture runs what survived the rollback: nothing.
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        signing.sign_petition(petition, {**SUBMISSIONS[0], "email": "gone@example.org", "consent_text": WORDING})
        raise RuntimeError

    assert not ConsentWording.objects.exists()
    assert ConsentWording._meta.db_table in sign_statements(petition, "kept@example.org")[0]
    assert ConsentWording.objects.filter(text=WORDING).exists()


@pytest.mark.parametrize("memo_seconds", [0, 60])
def test_a_known_address_is_sent_the_same_statement_as_a_new_one(petition, settings, memo_seconds, sign_statements):
    settings.PETITIONS = {**settings.PETITIONS, "LOCAL_CACHE_SECONDS": memo_seconds}
    sign_statements(petition, "warm-up@example.org")
    sign_statements(petition, "known@example.org")

    known, new = sign_statements(petition, "known@example.org"), sign_statements(petition, "new@example.org")

    assert [shape(sql) for sql in known] == [shape(sql) for sql in new] and len(new) == 1
