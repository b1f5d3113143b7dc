"""Landing pages from copies (issue 12): the thank-you page after confirming, and the "check your email" page.

The thank-you page comes from this process's copy with each signer's own link: it must answer
what a fresh render answers, byte for byte, with the signer's manage link (escaped as the
template escapes it), and never another signer's. The "check your email" page every sign
redirects to is the page cache's shared copy, as the petition page is.
"""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import AnonymousUser
from django.middleware.csrf import get_token
from django.test import RequestFactory

from cms import landing_copies
from cms.tokens import make_token, read_manage_token

from .conftest import confirm_url
from .factories import SignatureFactory

pytestmark = pytest.mark.django_db

MANAGE_LINK = re.compile(r'href="(/petitions/\d+/manage/\?token=[^"]+)"')


def confirm(client, signature, commit):
    return commit(client.post, confirm_url(signature.petition), {"token": make_token(signature)})


def fresh(page, already, manage_url):
    """The thank-you page rendered as it was before copies: the slow path."""
    response = page.render_landing(request_for(page), "confirmed", already=already, manage_url=manage_url)
    return response.render().content


def opens(page, link):
    """The signature a manage link opens."""
    token = parse_qs(urlsplit(link.replace("&amp;", "&")).query)["token"][0]
    return read_manage_token(token, page.pk)[0]


def request_for(page):
    request = RequestFactory().post(confirm_url(page))
    request.user = AnonymousUser()
    return request


def test_two_signers_each_see_only_their_own_manage_link(petition, client, commit):
    one, two = SignatureFactory(petition=petition), SignatureFactory(petition=petition)

    first, second = confirm(client, one, commit), confirm(client, two, commit)
    first_again = confirm(client, one, commit)

    links = [MANAGE_LINK.findall(r.content.decode()) for r in (first, second, first_again)]
    assert [len(found) for found in links] == [1, 1, 1]
    assert [opens(petition, found[0]) for found in links] == [one.pk, two.pk, one.pk]
    for response in (first, second, first_again):
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert landing_copies._copies  # the copies served them


@pytest.mark.parametrize("already", [False, True])
def test_the_copy_answers_the_same_bytes_as_a_fresh_render(petition, already):
    link = '/petitions/1/manage/?token=a"b<c>&d'  # escaped in both, the same way

    first = landing_copies.render_confirmed(petition, request_for(petition), already=already, manage_url=link)
    copied = landing_copies.render_confirmed(petition, request_for(petition), already=already, manage_url=link)

    expected = fresh(petition, already, link)
    assert first.content == copied.content == expected
    assert b"a&quot;b&lt;c&gt;&amp;d" in expected
    assert copied["Content-Type"] == "text/html; charset=utf-8"


def test_a_copy_served_to_a_second_signer_equals_its_fresh_render(petition, client, commit):
    one, two = SignatureFactory(petition=petition), SignatureFactory(petition=petition)
    confirm(client, one, commit)

    html = confirm(client, two, commit).content

    (link,) = MANAGE_LINK.findall(html.decode())
    assert html == fresh(petition, False, link.replace("&amp;", "&"))


def test_a_page_without_a_link_is_copied_too(petition):
    answers = [landing_copies.render_confirmed(petition, request_for(petition), already=True) for _ in range(2)]

    assert answers[0].content == answers[1].content == fresh(petition, True, "")
    assert landing_copies.PLACEHOLDER.encode() not in answers[0].content


def test_publishing_the_page_forgets_its_copies(petition, client, commit):
    confirm(client, SignatureFactory(petition=petition), commit)
    petition.confirmed_message = "<p>Now tell three friends.</p>"
    petition.save_revision().publish()

    html = confirm(client, SignatureFactory(petition=petition), commit).content.decode()

    assert "Now tell three friends." in html


def test_a_logged_in_user_gets_a_fresh_render_and_no_copy(petition, admin_client, commit):
    response = confirm(admin_client, SignatureFactory(petition=petition), commit)

    assert response.status_code == 200 and "counted" in response.content.decode()
    assert not landing_copies._copies


def test_a_visitor_with_a_session_or_messages_cookie_gets_a_fresh_render_and_no_copy(petition, client, commit):
    for name in ("sessionid", "messages"):
        client.cookies[name] = "x"
        response = confirm(client, SignatureFactory(petition=petition), commit)
        del client.cookies[name]

        assert response.status_code == 200 and "counted" in response.content.decode()
        assert not landing_copies._copies


def test_a_host_can_switch_the_copies_off(petition, client, commit, monkeypatch):
    monkeypatch.setattr(type(petition), "cache_confirmed_landing", False)

    confirm(client, SignatureFactory(petition=petition), commit)

    assert not landing_copies._copies


def test_a_render_that_sets_a_csrf_token_is_never_shared(petition, client, commit, monkeypatch):
    def render_with_token(self, request, stage, status=200, **extra):
        get_token(request)  # as {% csrf_token %} does
        return original(self, request, stage, status=status, **extra)

    original = type(petition).render_landing
    monkeypatch.setattr(type(petition), "render_landing", render_with_token)
    one, two = SignatureFactory(petition=petition), SignatureFactory(petition=petition)

    answers = [confirm(client, signature, commit) for signature in (one, two)]

    assert [opens(petition, MANAGE_LINK.findall(a.content.decode())[0]) for a in answers] == [one.pk, two.pk]
    assert all(parts is None for _, parts, _ in landing_copies._copies.values())


def test_the_copy_never_holds_a_signers_link(petition, client, commit):
    confirm(client, SignatureFactory(petition=petition), commit)

    assert landing_copies._copies
    for _, parts, _ in landing_copies._copies.values():
        assert not any(b"/manage/" in part for part in parts)


# --- the "check your email" page every sign redirects to ---------------------------------------


def test_the_signed_page_is_one_shared_copy_for_anonymous_visitors(petition, client, django_assert_num_queries):
    first = client.get(petition.url + "signed/")
    assert first["X-Petitions-Cache"] == "miss" and "Check your email" in first.content.decode()

    with django_assert_num_queries(0):
        second = client.get(petition.url + "signed/")

    assert second["X-Petitions-Cache"] == "hit" and second.content == first.content
    assert "public" in second["Cache-Control"] and "max-age=5" in second["Cache-Control"]
    assert "csrfmiddlewaretoken" not in first.content.decode()


def test_the_signed_page_is_never_shared_from_a_logged_in_users_render(petition, admin_client, client):
    mine = admin_client.get(petition.url + "signed/")

    assert "X-Petitions-Cache" not in mine
    assert client.get(petition.url + "signed/")["X-Petitions-Cache"] == "miss"
