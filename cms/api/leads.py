"""The campaign leads' endpoints: signatures (as pages or one CSV) and delivery status.

Each takes a Wagtail API token of a user allowed to view signatures, with the endpoint's scope,
and answers only for petitions under the user's granted campaigns (``cms.api.auth``).
"""

import csv
import re

from django.core import signing
from django.db.models import Q
from django.http import HttpResponse, StreamingHttpResponse
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from ninja import Query
from ninja.errors import HttpError

from ..models import Delivery
from ..permissions import VIEW_DELIVERIES
from ..spreadsheets import spreadsheet_safe
from . import schemas
from .auth import LeadTokenAuth, lead_petition
from .base import (
    COMMON_ERRORS,
    CURSOR_SALT,
    Refusal,
    absolute,
    petition_id_param,
    private,
    router,
    verified_signatures,
)

EXPORT_FIELDS = (
    "id",
    "petition_id",
    "first_name",
    "last_name",
    "country",
    "verified_at",
    "share_with_officials",
    "source",
)
LEAD_ERRORS = {**COMMON_ERRORS, 401: schemas.Error, 403: schemas.Error}


def make_cursor(row):
    return signing.dumps([row["verified_at"].isoformat(), row["id"]], salt=CURSOR_SALT, compress=True)


def invalid_cursor():
    return Refusal(
        400, "invalid", gettext("The cursor is not valid."), errors={"cursor": [gettext("Not a cursor from this API.")]}
    )


def after_cursor(queryset, cursor):
    try:
        at, pk = signing.loads(cursor, salt=CURSOR_SALT)
        at = parse_datetime(at)
    except (signing.BadSignature, ValueError, TypeError):
        raise invalid_cursor()
    if at is None or not isinstance(pk, int):
        raise invalid_cursor()
    return queryset.filter(Q(verified_at__gt=at) | Q(verified_at=at, pk__gt=pk))


# The export shares its path with the sign endpoint (GET and POST), so it lives on the same router.
@router.get(
    "/petitions/{id}/signatures/",
    response={200: schemas.SignatureExport, **LEAD_ERRORS},
    auth=LeadTokenAuth(),
    tags=["campaign leads"],
    url_name="export_signatures",
    operation_id="petitions_signatures_export",
    summary="Verified signatures, a page at a time (for campaign leads)",
    description=(
        "Oldest first. Names, country, when verified, consent to be named in deliveries, and source: "
        "never email addresses. Follow `next` while `has_more`; keep `next_cursor` to fetch only newer "
        "signatures later."
    ),
)
def export_signatures(
    request,
    response: HttpResponse,
    id: int = petition_id_param(),
    cursor: str | None = Query(None, description="From a previous page's `next_cursor`."),
    limit: int = Query(100, ge=1, le=1000),
):
    private(response)
    page = lead_petition(request, id, "read_signatures")
    signatures = verified_signatures(page)
    if cursor:
        signatures = after_cursor(signatures, cursor)
    rows = list(signatures.values(*EXPORT_FIELDS)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = make_cursor(rows[-1]) if rows else cursor
    for row in rows:
        row["country"] = row["country"] or None
    return {
        "items": rows,
        "has_more": has_more,
        "next_cursor": next_cursor,
        "next": f"{absolute(request, 'export_signatures', id=page.pk)}?limit={limit}&cursor={next_cursor}"
        if has_more
        else None,
    }


ADDRESS = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")


@router.get(
    "/petitions/{id}/deliveries/",
    response={200: schemas.DeliveryList, **LEAD_ERRORS},
    auth=LeadTokenAuth(),
    tags=["campaign leads"],
    url_name="deliveries",
    operation_id="petitions_deliveries",
    summary="Deliveries of the letter and each official's send status (for campaign leads)",
    description=(
        "Newest first. Needs the `view_delivery` permission and the token's `deliver` scope. "
        "Officials are named, never addressed."
    ),
)
def deliveries(request, response: HttpResponse, id: int = petition_id_param()):
    private(response)
    if not request.user.has_perm(VIEW_DELIVERIES):
        raise HttpError(403, gettext("This token's user may not view deliveries."))
    page = lead_petition(request, id, "deliver", VIEW_DELIVERIES)
    rows = (
        Delivery.objects.filter(petition_id=page.canonical_id)
        .prefetch_related("recipients")
        .order_by("-created_at", "-pk")
    )
    return {
        "items": [
            {
                "id": delivery.pk,
                "status": delivery.status,
                "trigger": delivery.trigger,
                "created_at": delivery.created_at,
                "sent_at": delivery.sent_at,
                "total": delivery.total,
                "offline_total": delivery.offline_total,
                "counted_until": delivery.counted_until,
                "include_list": delivery.include_list,
                "recipients": [
                    {
                        "name": recipient.name,
                        "status": recipient.status,
                        "attempts": recipient.attempts,
                        "sent_at": recipient.sent_at,
                        "error": ADDRESS.sub("[address]", recipient.error),
                    }
                    for recipient in delivery.recipients.all()
                ],
            }
            for delivery in rows
        ]
    }


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value):
        return value


@router.get(
    "/petitions/{id}/signatures.csv",
    response=LEAD_ERRORS,
    auth=LeadTokenAuth(),
    tags=["campaign leads"],
    url_name="export_signatures_csv",
    operation_id="petitions_signatures_csv",
    summary="Every verified signature as CSV, streamed (for campaign leads)",
    description="Needs the token's `export` scope.",
    openapi_extra={
        "responses": {
            "200": {
                "description": "CSV with a header row; the same columns as the JSON export.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_signatures_csv(request, id: int = petition_id_param()):
    page = lead_petition(request, id, "export")
    rows = verified_signatures(page).values_list(*EXPORT_FIELDS).iterator(chunk_size=2000)
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(EXPORT_FIELDS)
        for row in rows:
            yield writer.writerow([spreadsheet_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="petition-{page.pk}-signatures.csv"'
    return private(response)
