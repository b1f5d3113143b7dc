"""A verification on PostgreSQL is one ``UPDATE … RETURNING`` (issue 12): the same rows, counts and links as before.

Each test runs both paths: PostgreSQL's one statement, and the ORM's transaction other databases
(SQLite) take, which is what the statement replaced.
"""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cms import manage_links, quarantine, signing
from cms.models import ConsentWording, FraudRule, Signature
from cms.signing import VerifyResult, consent_version, verify
from cms.tokens import make_token, read_manage_token

from .factories import SignatureFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["postgresql", "other"])
def vendor(request, monkeypatch):
    """PostgreSQL's one statement, and the path other databases (SQLite) take."""
    if request.param == "other":
        monkeypatch.setattr(connection, "vendor", "sqlite")
    return request.param


@pytest.fixture
def recorded(monkeypatch):
    """The signature objects handed to the live counter after commit."""
    signatures = []
    monkeypatch.setattr(signing, "record_verification", lambda page, signature: signatures.append(signature))
    return signatures


@pytest.mark.services  # PostgreSQL's statement: skipped without the services, an error under CI
def test_a_new_verification_is_one_statement_on_postgresql(petition):
    assert connection.vendor == "postgresql"
    signature = SignatureFactory(petition=petition)
    quarantine.load_rules()  # cached once per process, not per verification
    assert petition.canonical_id == petition.pk  # the same: the page a translation counts on (cms.translations)

    with CaptureQueriesContext(connection) as queries:
        result = verify(petition, make_token(signature)).result

    assert result == VerifyResult.VERIFIED
    assert len(queries) == 1 and queries[0]["sql"].startswith("UPDATE")


def test_the_live_counter_gets_the_row_as_the_database_holds_it(petition, commit, recorded, vendor):
    petition.feed_show_place = True
    petition.save_revision().publish()
    signature = SignatureFactory(petition=petition, first_name="Ada", last_name="Lovelace", feed_name="first_initial")

    commit(verify, petition, make_token(signature))

    stored = Signature.objects.only(*Signature.FEED_FIELDS).get(pk=signature.pk)
    assert [s.pk for s in recorded] == [signature.pk]
    assert stored.verified_at is not None
    assert recorded[0].verified_at == stored.verified_at, (recorded[0].verified_at, stored.verified_at)
    assert recorded[0].feed_entry(petition) == stored.feed_entry(petition)
    assert recorded[0].feed_entry(petition)["place"] == "United Kingdom"


@pytest.mark.services  # PostgreSQL's clock
def test_verified_at_is_the_databases_statement_time_on_postgresql(petition):
    assert connection.vendor == "postgresql"
    signature = SignatureFactory(petition=petition)
    with connection.cursor() as cursor:
        cursor.execute("SELECT STATEMENT_TIMESTAMP()")
        before = cursor.fetchone()[0]

    verify(petition, make_token(signature))

    signature.refresh_from_db()
    assert signature.verified_at >= before


def test_each_answer_carries_its_own_signatures_manage_link(petition, commit, vendor):
    one, two = SignatureFactory(petition=petition), SignatureFactory(petition=petition)
    Signature.objects.filter(pk=two.pk).update(manage_token_version=3)  # a signer who revoked their links

    first = [commit(verify, petition, make_token(s)) for s in (one, two)]
    again = [commit(verify, petition, make_token(s)) for s in (one, two)]

    assert [v.result for v in first] == [VerifyResult.VERIFIED] * 2
    assert [v.result for v in again] == [VerifyResult.ALREADY] * 2
    for signature, verified, repeated in zip((one, two), first, again, strict=True):
        # The reference: the link of the signature as stored now (its revocations counted).
        expected = opened(petition, manage_links.manage_path(petition, Signature.objects.get(pk=signature.pk)))
        assert expected == (signature.pk, 3 if signature == two else 0)
        assert opened(petition, manage_links.path_for_verification(petition, verified)) == expected
        assert opened(petition, manage_links.path_for_verification(petition, repeated)) == expected


def opened(page, path):
    """What a manage link opens: (signature id, link version)."""
    assert path.startswith(f"/petitions/{page.pk}/manage/?token=")
    return read_manage_token(parse_qs(urlsplit(path).query)["token"][0], page.pk)


def test_an_invalid_answer_gives_no_manage_link(petition, vendor):
    signature = SignatureFactory(petition=petition)
    signature.mark_fraudulent()

    verification = verify(petition, make_token(signature))

    assert verification.result == VerifyResult.INVALID
    assert manage_links.path_for_verification(petition, verification) == ""


def test_a_flagged_signature_is_quarantined_uncounted_and_answered_as_verified(petition, commit, recorded, vendor):
    FraudRule.objects.create(kind=FraudRule.Kind.DOMAIN, value="spam.example")
    signature = SignatureFactory(petition=petition, email="x@spam.example")

    verification = commit(verify, petition, make_token(signature))

    signature.refresh_from_db()
    assert (verification.result, signature.status, recorded) == (VerifyResult.VERIFIED, "quarantined", [])
    assert opened(petition, manage_links.path_for_verification(petition, verification)) == (signature.pk, 0)


def test_the_consent_wording_is_stored_only_by_the_verification_that_applies_it(petition, commit, vendor):
    signature = SignatureFactory(petition=petition)
    commit(verify, petition, make_token(signature), {"first_name": "Vera", "consent_text": "first wording"})

    again = commit(verify, petition, make_token(signature), {"first_name": "Eve", "consent_text": "later wording"})

    signature.refresh_from_db()
    assert again.result == VerifyResult.ALREADY and signature.first_name == "Vera"
    assert signature.consent_version == consent_version("first wording") and signature.consent_given_at
    assert ConsentWording.objects.get(pk=signature.consent_version).text == "first wording"
    assert not ConsentWording.objects.filter(pk=consent_version("later wording")).exists()
