"""Signed, expiring tokens that put a signature's id in a verification link."""

from django.core import signing

from .conf import get_setting

SALT = "petitions.verify-signature"


class InvalidToken(Exception):
    """Tampered with, or for another petition."""


class ExpiredToken(InvalidToken):
    pass


def make_token(signature) -> str:
    return signing.dumps([signature.pk, signature.petition_id], salt=SALT, compress=False)


def read_token(token: str, petition_id: int) -> int:
    """Return the signature id in ``token``, or raise InvalidToken / ExpiredToken."""
    try:
        signature_id, token_petition_id = signing.loads(token, salt=SALT, max_age=get_setting("VERIFY_TOKEN_MAX_AGE"))
    except signing.SignatureExpired as exc:
        raise ExpiredToken(str(exc)) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    if token_petition_id != petition_id or not isinstance(signature_id, int):
        raise InvalidToken("token is for another petition")
    return signature_id
