"""The daily cap costs one read per batch and one count per email sent, and caps as before."""

import pytest

from cms import emails
from cms.store import RedisStore

from .factories import PetitionPageFactory, SignatureFactory, petition_body

pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture
def store_calls(monkeypatch):
    calls = []
    for name in ("attempts", "attempts_many", "count_attempt"):
        method = getattr(RedisStore, name)
        monkeypatch.setattr(RedisStore, name, lambda self, *a, _m=method, _n=name: calls.append(_n) or _m(self, *a))
    return calls


def test_a_batch_reads_the_cap_once_and_counts_each_email_sent(petition, store_calls, mailoutbox):
    ids = [signature.pk for signature in SignatureFactory.create_batch(4, petition=petition)]

    assert emails.send_verification_emails(ids) == (ids, [])

    assert store_calls == ["attempts_many"] + ["count_attempt"] * 4


def test_one_inbox_twice_in_a_batch_is_capped_at_the_cap(index_page, official, settings, mailoutbox):
    settings.PETITIONS = {**settings.PETITIONS, "EMAILS_PER_ADDRESS_PER_DAY": 2}
    pages = [PetitionPageFactory(parent=index_page, body=petition_body([official.pk])) for _ in range(3)]
    ids = [SignatureFactory(petition=page, email="ada@example.org").pk for page in pages]

    assert emails.send_verification_emails(ids) == (ids[:2], [])
    assert len(mailoutbox) == 2


def test_an_email_counted_by_another_worker_meanwhile_counts_toward_the_cap(petition, settings, mailoutbox):
    settings.PETITIONS = {**settings.PETITIONS, "EMAILS_PER_ADDRESS_PER_DAY": 1}
    first = SignatureFactory(petition=petition, email="ada@example.org")
    cap = emails.DailyCap([first])
    other = emails.DailyCap([first])  # another worker's batch, read at the same moment

    other.count(first)
    cap.count(first)

    assert cap.sent[emails._cap_key(first)] == 2  # the store's count, not this batch's guess
    assert cap.reached(first)
