"""The signatures listing is a Wagtail ModelViewSet (issue 14, part 2).

Real admin requests through the Django test client, as a campaign lead: filters, search, the
CSV/XLSX export (formula-safe, consent-respecting), bulk actions behind a confirmation that
states the count, and the lead's scope (another campaign's petition or rows are a 4xx).
"""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from cms.models import PetitionStats, Signature

from .factories import LeadFactory, PetitionPageFactory, SignatureFactory

LISTING = "petitions_signatures:index"


@pytest.fixture
def petition_a(campaign_a):
    return PetitionPageFactory(parent=campaign_a, title="Petition A")


@pytest.fixture
def other_petition_a(campaign_a):
    return PetitionPageFactory(parent=campaign_a, title="Second petition of A")


@pytest.fixture
def petition_b(campaign_b):
    return PetitionPageFactory(parent=campaign_b, title="Petition B")


@pytest.fixture
def lead(client, campaign_a):
    user = LeadFactory(campaigns=[campaign_a])
    client.force_login(user)
    return user


def listing(client, **params):
    response = client.get(reverse(LISTING), params)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


def bulk_url(action, *signatures, **params):
    query = "&".join([f"id={s.pk}" for s in signatures] + [f"{k}={v}" for k, v in params.items()])
    return reverse("wagtail_bulk_action", args=["petitions_cms", "signature", action]) + "?" + query + "&next=/admin/"


def exported_csv(client, **params):
    response = client.get(reverse(LISTING), {"export": "csv", **params})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


# --- the listing and its filters ------------------------------------------------------------------------


def test_the_listing_shows_only_the_leads_campaigns(client, lead, petition_a, petition_b):
    SignatureFactory(petition=petition_a, first_name="Alice")
    SignatureFactory(petition=petition_b, first_name="Bartholomew")

    page = listing(client)

    assert "Alice" in page and "Bartholomew" not in page


def test_filters_narrow_by_petition_status_country_source_and_feed(client, lead, petition_a, other_petition_a):
    SignatureFactory(petition=petition_a, first_name="Pendella")
    SignatureFactory(petition=petition_a, first_name="Verity", verified=True, country="FR", source="newsletter")
    SignatureFactory(petition=other_petition_a, first_name="Otto", verified=True, show_in_feed=False)
    SignatureFactory(petition=petition_a, first_name="Hilda", verified=True, hidden_from_feed=True)

    by_petition = listing(client, petition=other_petition_a.pk)
    by_status = listing(client, status="pending")
    by_country = listing(client, country="FR")
    by_source = listing(client, source="newsletter")
    hidden = listing(client, show_in_feed="false")
    shown = listing(client, show_in_feed="true")

    assert "Otto" in by_petition and "Verity" not in by_petition
    assert "Pendella" in by_status and "Verity" not in by_status
    assert "Verity" in by_country and "Pendella" not in by_country
    assert "Verity" in by_source and "Otto" not in by_source
    assert "Otto" in hidden and "Hilda" in hidden and "Verity" not in hidden
    assert "Verity" in shown and "Otto" not in shown and "Hilda" not in shown


def test_the_signed_between_filter_takes_a_date_range(client, lead, petition_a):
    SignatureFactory(petition=petition_a, first_name="Olde", created_at=timezone.now() - timedelta(days=40))
    SignatureFactory(petition=petition_a, first_name="Nuova")
    since = (timezone.now() - timedelta(days=7)).date().isoformat()

    page = listing(client, signed_from=since)

    assert "Nuova" in page and "Olde" not in page


@pytest.mark.parametrize(
    ("query", "found", "not_found"),
    [
        ("ada", "Ada", "Grace"),
        ("Lovel", "Ada", "Grace"),
        ("ada lov", "Ada", "Grace"),
        ("G.Hopper+news@Gmail.com", "Grace", "Ada"),
    ],
)
def test_search_finds_a_name_prefix_or_an_address(client, lead, petition_a, query, found, not_found):
    SignatureFactory(petition=petition_a, first_name="Ada", last_name="Lovelace", email="ada@example.org")
    SignatureFactory(petition=petition_a, first_name="Grace", last_name="Hopper", email="ghopper@gmail.com")

    page = listing(client, q=query)

    assert found in page and not_found not in page


# --- export ---------------------------------------------------------------------------------------------


def test_the_csv_export_neutralises_formulas(client, lead, petition_a):
    SignatureFactory(petition=petition_a, first_name="=HYPERLINK(1)", last_name="@SUM", verified=True,
                     share_with_officials=True, source="+source")  # fmt: skip

    [row] = exported_csv(client)

    assert (row["First name"], row["Last name"], row["Source"]) == ("'=HYPERLINK(1)", "'@SUM", "'+source")


def test_the_xlsx_export_neutralises_formulas(client, lead, petition_a):
    SignatureFactory(petition=petition_a, first_name="-2+3", last_name="\tcmd", verified=True,
                     share_with_officials=True)  # fmt: skip

    response = client.get(reverse(LISTING), {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    header, row = [[cell.value for cell in line] for line in sheet.iter_rows()]

    values = dict(zip(header, row, strict=True))
    assert (values["First name"], values["Last name"]) == ("'-2+3", "'\tcmd")


def test_the_export_passes_on_only_what_each_signer_consented_to(client, lead, petition_a):
    SignatureFactory(petition=petition_a, first_name="Named", verified=True, share_with_officials=True,
                     postcode="SW1A 1AA", share_postcode_with_officials=True)  # fmt: skip
    SignatureFactory(petition=petition_a, first_name="Nameonly", verified=True, share_with_officials=True,
                     postcode="EC1A 1BB")  # fmt: skip
    SignatureFactory(petition=petition_a, first_name="Private", verified=True, share_with_officials=False)

    rows = exported_csv(client)

    by_postcode = {row["Postcode"]: row for row in rows}
    assert {row["First name"] for row in rows} == {"Named", "Nameonly", ""}
    assert set(by_postcode) == {"SW1A 1AA", ""}
    assert all("@" not in value for row in rows for value in row.values())  # never an address
    assert [row["Country"] for row in rows if row["First name"] == ""] == [""]


def test_the_export_follows_the_filters_and_the_grants(client, lead, petition_a, other_petition_a, petition_b):
    SignatureFactory(petition=petition_a, first_name="Keep", verified=True, share_with_officials=True)
    SignatureFactory(petition=other_petition_a, first_name="Other", verified=True, share_with_officials=True)
    SignatureFactory(petition=petition_b, first_name="Foreign", verified=True, share_with_officials=True)

    rows = exported_csv(client, petition=petition_a.pk)

    assert [row["First name"] for row in rows] == ["Keep"]


# --- bulk actions ----------------------------------------------------------------------------------------


def test_hiding_from_the_feed_asks_with_the_count_then_hides(client, lead, petition_a, commit):
    chosen = SignatureFactory.create_batch(3, petition=petition_a, verified=True)

    confirm = client.get(bulk_url("hide_from_feed", *chosen))
    done = commit(client.post, bulk_url("hide_from_feed", *chosen), follow=True)

    assert confirm.status_code == 200
    assert "Hide 3 signatures from the public feed?" in confirm.content.decode()
    assert "Hid 3 signatures from the feed." in done.content.decode()
    assert Signature.objects.filter(hidden_from_feed=True).count() == 3


def test_hiding_takes_the_signer_out_of_the_public_feed(client, lead, petition_a, commit, reconcile):
    signature = SignatureFactory(petition=petition_a, verified=True, first_name="Feedy")
    reconcile()
    assert "Feedy" in [entry["name"] for entry in petition_a.specific.get_feed()]

    commit(client.post, bulk_url("hide_from_feed", signature))

    assert "Feedy" not in [entry["name"] for entry in petition_a.specific.get_feed()]


def test_invalidating_asks_with_the_count_and_requests_a_recount(client, lead, petition_a, commit, reconcile):
    chosen = SignatureFactory.create_batch(2, petition=petition_a, verified=True)
    kept = SignatureFactory(petition=petition_a, verified=True)
    reconcile()

    confirm = client.get(bulk_url("invalidate", *chosen)).content.decode()
    commit(client.post, bulk_url("invalidate", *chosen))
    reconcile()

    assert "Invalidate 2 signatures?" in confirm
    assert set(Signature.objects.filter(status="invalidated").values_list("pk", flat=True)) == {s.pk for s in chosen}
    assert Signature.objects.get(pk=kept.pk).status == "verified"
    assert PetitionStats.objects.get(petition_id=petition_a.pk).signature_count == 1


def test_restoring_undoes_an_invalidation_and_a_hiding(client, lead, petition_a, commit, reconcile):
    pending, verified, hidden = (
        SignatureFactory(petition=petition_a),
        SignatureFactory(petition=petition_a, verified=True),
        SignatureFactory(petition=petition_a, verified=True),
    )
    commit(client.post, bulk_url("invalidate", pending, verified))
    commit(client.post, bulk_url("hide_from_feed", hidden))

    confirm = client.get(bulk_url("restore", pending, verified, hidden)).content.decode()
    commit(client.post, bulk_url("restore", pending, verified, hidden))
    reconcile()

    assert "Restore 3 signatures" in confirm
    statuses = dict(Signature.objects.values_list("pk", "status"))
    assert (statuses[pending.pk], statuses[verified.pk], statuses[hidden.pk]) == ("pending", "verified", "verified")
    assert not Signature.objects.filter(hidden_from_feed=True).exists()
    assert PetitionStats.objects.get(petition_id=petition_a.pk).signature_count == 2


def test_a_bulk_action_that_would_change_nothing_says_so(client, lead, petition_a, commit):
    already = SignatureFactory(petition=petition_a, verified=True, hidden_from_feed=True)

    confirm = client.get(bulk_url("hide_from_feed", already)).content.decode()
    done = commit(client.post, bulk_url("hide_from_feed", already), follow=True).content.decode()

    assert "there is nothing to hide" in confirm
    assert "Yes" not in confirm and "Hide from feed</button>" not in confirm
    assert "No signature changed" in done


def test_select_all_acts_on_the_filtered_listing_only(client, lead, petition_a, other_petition_a, petition_b, commit):
    SignatureFactory.create_batch(3, petition=petition_a, verified=True)
    other = SignatureFactory(petition=other_petition_a, verified=True)
    foreign = SignatureFactory(petition=petition_b, verified=True)
    url = reverse("wagtail_bulk_action", args=["petitions_cms", "signature", "hide_from_feed"])
    query = f"?petition={petition_a.pk}&id=all&next=/admin/"

    confirm = client.get(url + query).content.decode()
    commit(client.post, url + query)

    assert "Hide 3 signatures from the public feed?" in confirm
    assert Signature.objects.filter(hidden_from_feed=True, petition=petition_a).count() == 3
    assert not Signature.objects.filter(pk__in=[other.pk, foreign.pk], hidden_from_feed=True).exists()


# --- scope ---------------------------------------------------------------------------------------------------


def test_a_filter_on_another_campaigns_petition_is_a_404(client, lead, petition_a, petition_b):
    SignatureFactory(petition=petition_b, first_name="Bartholomew")

    response = client.get(reverse(LISTING), {"petition": petition_b.pk})
    export = client.get(reverse(LISTING), {"petition": petition_b.pk, "export": "csv"})

    assert (response.status_code, export.status_code) == (404, 404)
    assert "Bartholomew" not in response.content.decode()


def test_a_malformed_filter_is_a_400(client, lead, petition_a):
    assert client.get(reverse(LISTING), {"signed_from": "yesterday-ish"}).status_code == 400
    assert client.get(reverse(LISTING), {"status": "bribed"}).status_code == 400


@pytest.mark.parametrize("action", ["hide_from_feed", "invalidate", "restore"])
def test_a_bulk_action_with_another_campaigns_ids_is_a_404_and_changes_nothing(
    client, lead, petition_a, petition_b, commit, action
):
    ours = SignatureFactory(petition=petition_a, verified=True)
    theirs = SignatureFactory(petition=petition_b, verified=True)

    confirm = client.get(bulk_url(action, ours, theirs))
    post = commit(client.post, bulk_url(action, ours, theirs))

    assert (confirm.status_code, post.status_code) == (404, 404)
    assert set(Signature.objects.values_list("status", "hidden_from_feed")) == {("verified", False)}


def test_another_campaigns_lead_gets_a_404_for_a_signature_page(client, lead, petition_b):
    theirs = SignatureFactory(petition=petition_b, verified=True)

    edit = client.get(reverse("petitions_signatures:edit", args=[theirs.pk]))
    post = client.post(reverse("petitions_signatures:edit", args=[theirs.pk]), {"hidden_from_feed": "on"})
    history = client.get(reverse("petitions_signatures:history", args=[theirs.pk]))

    assert (edit.status_code, post.status_code, history.status_code) == (404, 404, 404)
    theirs.refresh_from_db()
    assert not theirs.hidden_from_feed


def test_nobody_adds_a_signature_in_the_admin(client, lead):
    assert client.get(reverse("petitions_signatures:add")).status_code == 403


def test_the_old_snippet_address_redirects_to_the_listing(client, lead):
    response = client.get("/admin/snippets/petitions_cms/signature/?status=verified")

    assert response.status_code == 302
    assert response["Location"] == reverse(LISTING) + "?status=verified"


def test_the_listing_counts_no_further_than_its_limit(client, lead, petition_a, settings):
    settings.PETITIONS = {**settings.PETITIONS, "LISTING_COUNT_LIMIT": 3}
    SignatureFactory.create_batch(5, petition=petition_a)

    capped = listing(client)
    exact = listing(client, q="nobody-by-that-name")

    assert "More than 3 signatures" in capped
    assert "More than" not in exact


def test_a_bulk_action_with_a_malformed_id_is_a_404(client, lead, petition_a):
    url = reverse("wagtail_bulk_action", args=["petitions_cms", "signature", "hide_from_feed"])

    assert client.get(url + "?id=not-a-number&next=/admin/").status_code == 404


def test_a_lead_without_the_fraud_permission_cannot_invalidate(client, petition_a, campaign_a, commit):
    signature = SignatureFactory(petition=petition_a, verified=True)
    # Only allowed to see and edit signatures, not to use the fraud tools.
    viewer = LeadFactory(campaigns=[campaign_a], groups=[])
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_signature", "change_signature", "access_admin"])
    )
    client.force_login(viewer)

    response = commit(client.post, bulk_url("invalidate", signature))

    assert response.status_code == 403
    assert Signature.objects.get(pk=signature.pk).status == "verified"


@pytest.mark.parametrize(
    ("params", "status"),
    [({"q": "\x00"}, 200), ({"q": "x" * 5000}, 200), ({"source": "\x00"}, 400), ({"petition": "abc"}, 404)],
)
def test_hostile_listing_parameters_get_a_clear_answer_never_a_500(client, lead, petition_a, params, status):
    assert client.get(reverse(LISTING), params).status_code == status
