"""Signed, expiring tokens that put a signature's id in a link: the verification link and the manage link.

Each kind has its own salt, so a verification token is never a manage token, nor the reverse.
"""

from django.core import signing

from .conf import get_setting

SALT = "petitions.verify-signature"
MANAGE_SALT = "petitions.manage-signature"


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


def make_manage_token(signature) -> str:
    """The signer's own link to their signature: revoked by bumping its ``manage_token_version``."""
    payload = [signature.pk, signature.petition_id, signature.manage_token_version]
    return signing.dumps(payload, salt=MANAGE_SALT, compress=False)


def read_manage_token(token: str, petition_id: int) -> tuple[int, int]:
    """Return (signature id, link version) of a manage token, or raise InvalidToken / ExpiredToken."""
    try:
        payload = signing.loads(token, salt=MANAGE_SALT, max_age=get_setting("MANAGE_TOKEN_MAX_AGE"))
    except signing.SignatureExpired as exc:
        raise ExpiredToken(str(exc)) from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise InvalidToken(str(exc)) from exc
    if not (isinstance(payload, list) and len(payload) == 3 and all(isinstance(value, int) for value in payload)):
        raise InvalidToken("not a manage token")
    signature_id, token_petition_id, version = payload
    if token_petition_id != petition_id:
        raise InvalidToken("token is for another petition")
    return signature_id, version
