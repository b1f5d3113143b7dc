"""Canonical forms of what identifies a signer."""


def normalize_email(email: str) -> str:
    """One signature per person: fold case and surrounding whitespace."""
    return (email or "").strip().lower()
