"""Conditional GETs for the API's public answers (RFC 9110 §13): ETag, Last-Modified and the 304.

An ETag is weak (``W/``): it names the data, not the bytes (a CDN may compress or
re-encode them). ``If-None-Match`` takes precedence over ``If-Modified-Since``
(RFC 9110 §13.2.2): a client sending both gets the exact comparison.
"""

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponseNotModified
from django.utils.http import http_date, parse_etags, parse_http_date_safe

VALIDATOR_HEADERS = {
    "ETag": {"description": "Weak, of the whole answer.", "schema": {"type": "string"}},
    "Last-Modified": {"description": "An HTTP date; absent when unknown.", "schema": {"type": "string"}},
}


def with_validator_headers(extra):
    """An operation's OpenAPI extras, with the validators its 200 and 304 carry."""
    responses = extra.setdefault("responses", {})
    for status in (200, 304):
        responses.setdefault(status, {})["headers"] = VALIDATOR_HEADERS
    return extra


def content_etag(data):
    """A weak ETag for an answer's data: a digest of its JSON, so any change in it changes the tag."""
    text = json.dumps(data, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return f'W/"{hashlib.blake2b(text.encode(), digest_size=16).hexdigest()}"'


def is_not_modified(request, etag, last_modified=None):
    """Whether the client's copy is current: If-None-Match when sent, else If-Modified-Since.

    ``last_modified`` is an aware datetime or None (then If-Modified-Since alone never gives a 304).
    """
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match:  # RFC 9110 §13.1.3: evaluated instead of If-Modified-Since
        tags = parse_etags(if_none_match)
        return "*" in tags or weak(etag) in {weak(tag) for tag in tags}
    since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    if since is None or last_modified is None:
        return False
    return int(last_modified.timestamp()) <= since


def weak(tag):
    return tag.removeprefix("W/")


def set_validators(response, etag, last_modified=None):
    response["ETag"] = etag
    if last_modified is not None:
        response["Last-Modified"] = http_date(last_modified.timestamp())
    return response


def not_modified(response, etag, last_modified=None):
    """The 304, with the validators and the caching headers a 200 would carry (RFC 9110 §15.4.5)."""
    answer = HttpResponseNotModified()
    answer["Cache-Control"] = response["Cache-Control"]
    return set_validators(answer, etag, last_modified)
