"""The OpenAPI schema is as strict as the server: what it refuses, the server refuses with a 400."""

import json
import re

import pytest

from cms.forms import country_choices
from cms.models import Signature

pytestmark = pytest.mark.django_db

OSDI_PERSON = {
    "given_name": "Ada",
    "email_addresses": [{"address": "ada@example.org", "primary": True}],
    "postal_addresses": [{"country": "GB"}],
}


@pytest.fixture
def openapi(client):
    return client.get("/api/openapi.json").json()


def request_body(openapi, path):
    return openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json", REMOTE_ADDR="10.0.0.9")


def test_the_country_enum_is_the_codes_the_sign_form_accepts(openapi):
    schema = request_body(openapi, "/api/petitions/{id}/signatures/")
    enum = next(option["enum"] for option in schema["properties"]["country"]["anyOf"] if "enum" in option)
    assert set(enum) == {code for code, _ in country_choices()}


def test_a_country_outside_the_enum_is_a_400_naming_the_field(petition, client):
    response = post(
        client,
        f"/api/petitions/{petition.pk}/signatures/",
        {"first_name": "Ada", "email": "ada@example.org", "feed_display": "first", "country": "XX"},
    )
    assert response.status_code == 400
    assert "country" in response.json()["errors"]


def test_the_osdi_body_states_its_additional_properties(openapi):
    schema = request_body(openapi, "/api/osdi/v1/petitions/{id}/signatures/")
    custom_fields = next(option for option in schema["properties"]["custom_fields"]["anyOf"] if "properties" in option)
    assert schema["additionalProperties"] is True
    assert custom_fields["type"] == "object" and custom_fields["additionalProperties"] is True


@pytest.mark.parametrize("custom_fields", [[], ["share_with_officials"], "yes", 1])
def test_osdi_custom_fields_other_than_an_object_are_a_400_naming_the_field(petition, client, custom_fields):
    response = post(
        client,
        f"/api/osdi/v1/petitions/{petition.pk}/signatures/",
        {"person": OSDI_PERSON, "custom_fields": custom_fields},
    )
    assert response.status_code == 400
    assert "custom_fields" in response.json()["errors"]


def test_a_boolean_sent_as_a_string_is_a_400_as_the_schema_says(petition, client):
    response = post(
        client,
        f"/api/osdi/v1/petitions/{petition.pk}/signatures/",
        {"person": OSDI_PERSON, "custom_fields": {"share_with_officials": "yes"}},
    )
    assert response.status_code == 400
    assert "custom_fields" in response.json()["errors"]


def test_unknown_osdi_properties_are_ignored_as_the_schema_allows(petition, client):
    body = {"person": {**OSDI_PERSON, "phone_numbers": [{"number": "1"}]}, "custom_fields": {"crm_id": 7}}
    assert post(client, f"/api/osdi/v1/petitions/{petition.pk}/signatures/", body).status_code == 202


def test_the_invalid_token_answer_is_documented_with_its_error_body(openapi, client, petition):
    responses = openapi["paths"]["/api/signatures/confirm/"]["post"]["responses"]
    answer = post(client, "/api/signatures/confirm/", {"token": "not-a-token", "petition_id": petition.pk})
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_token" and "token" in answer.json()["errors"]
    documented = responses["400"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(openapi["components"]["schemas"][documented]["required"]) == set(answer.json())


def test_the_list_links_to_the_detail_and_the_detail_to_its_count(openapi):
    list_links = openapi["paths"]["/api/petitions/"]["get"]["responses"]["200"]["links"]
    detail_links = openapi["paths"]["/api/petitions/{id}/"]["get"]["responses"]["200"]["links"]
    assert list_links["detail"]["operationId"] == "petitions_detail"
    assert detail_links["count"] == {"operationId": "petitions_count", "parameters": {"id": "$response.body#/id"}}


@pytest.mark.parametrize("first_name", ["A\x00da", "   "])
def test_a_name_the_form_would_refuse_is_refused_by_the_schema_too(openapi, petition, client, first_name):
    pattern = request_body(openapi, "/api/petitions/{id}/signatures/")["properties"]["first_name"]["pattern"]
    response = post(
        client,
        f"/api/petitions/{petition.pk}/signatures/",
        {"first_name": first_name, "email": "ada@example.org", "feed_display": "first"},
    )
    assert re.search(pattern, first_name) is None
    assert response.status_code == 400 and "first_name" in response.json()["errors"]


def test_an_osdi_signature_with_any_invalid_address_is_refused_not_only_the_primary(client, petition):
    body = {
        "person": {
            "given_name": "Ada",
            "email_addresses": [
                {"address": "ada@example.org", "primary": True},
                {"address": "not an address*"},
            ],
        }
    }

    response = client.post(
        f"/api/osdi/v1/petitions/{petition.pk}/signatures/",
        json.dumps(body),
        content_type="application/json",
        REMOTE_ADDR="10.9.9.9",
    )

    assert response.status_code == 400
    assert not Signature.objects.filter(petition=petition).exists()
