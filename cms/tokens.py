"""Signed tokens that put a signature's id in a link: the verification, manage and unsubscribe links.

Each kind has its own salt, so a token of one kind never opens another's link.
"""

from django.core import signing

from .conf import get_setting

SALT = "petitions.verify-signature"
MANAGE_SALT = "petitions.manage-signature"
UNSUBSCRIBE_SALT = "petitions.unsubscribe"


class InvalidToken(Exception):
    """Tampered with, or for another petition."""


class ExpiredToken(InvalidToken):
    pass


def _load(token: str, salt: str, max_age):
    """The payload of a token of the kind ``salt`` names, or InvalidToken / ExpiredToken."""
    try:
        return signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise ExpiredToken(str(exc)) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def make_token(signature) -> str:
    return signing.dumps([signature.pk, signature.petition_id], salt=SALT, compress=False)


def read_token(token: str, petition_id: int) -> int:
    """Return the signature id in ``token``, or raise InvalidToken / ExpiredToken."""
    payload = _load(token, SALT, get_setting("VERIFY_TOKEN_MAX_AGE"))
    if not (isinstance(payload, list) and len(payload) == 2 and _is_id(payload[0])):
        raise InvalidToken("not a verification token")
    signature_id, token_petition_id = payload
    if token_petition_id != petition_id:
        raise InvalidToken("token is for another petition")
    return signature_id


def make_manage_token(signature) -> str:
    """The signer's own link to their signature: revoked by bumping its ``manage_token_version``."""
    return manage_token_for(signature.pk, signature.petition_id, signature.manage_token_version)


def manage_token_for(signature_id: int, petition_id: int, version: int) -> str:
    """``make_manage_token`` from the three values it signs, for a caller that holds no signature object."""
    return signing.dumps([signature_id, petition_id, version], salt=MANAGE_SALT, compress=False)


def read_manage_token(token: str, petition_id: int) -> tuple[int, int]:
    """Return (signature id, link version) of a manage token, or raise InvalidToken / ExpiredToken."""
    payload = _load(token, MANAGE_SALT, get_setting("MANAGE_TOKEN_MAX_AGE"))
    if not (isinstance(payload, list) and len(payload) == 3 and all(_is_id(value) for value in payload)):
        raise InvalidToken("not a manage token")
    signature_id, token_petition_id, version = payload
    if token_petition_id != petition_id:
        raise InvalidToken("token is for another petition")
    return signature_id, version


def make_unsubscribe_token(signature) -> str:
    """The update emails' unsubscribe link; it does not expire unless ``UNSUBSCRIBE_TOKEN_MAX_AGE`` says so."""
    return signing.dumps(signature.pk, salt=UNSUBSCRIBE_SALT, compress=False)


def read_unsubscribe_token(token: str) -> int:
    """The signature id of an unsubscribe token, or InvalidToken (ExpiredToken is one)."""
    signature_id = _load(token, UNSUBSCRIBE_SALT, get_setting("UNSUBSCRIBE_TOKEN_MAX_AGE"))
    if not _is_id(signature_id):
        raise InvalidToken("not a signature id")
    return signature_id
