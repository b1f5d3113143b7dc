"""Canonical forms of what identifies a signer, and the addresses that cannot sign.

A signature keeps the address as it was typed in ``email``: that is the one mailed. Its
``email_normalized`` holds the canonical form below, and the unique constraint on
(petition, email_normalized) is what finds a second signature from the same inbox (the sign
statement's ``ON CONFLICT``). Everything here is a pure function of the text and the settings.
"""

import functools
import hashlib

import idna
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS

from .conf import get_setting

#: The longest address a signature stores, and the longest canonical form: the columns' length.
MAX_LENGTH = 254


def normalize_email(email: str) -> str:
    """The canonical form of an address: one per inbox, so that one person signs once.

    Surrounding whitespace goes and case folds; the domain takes its lowercase IDNA ASCII form
    (``bücher.example``, ``BÜCHER.example`` and ``xn--bcher-kva.example`` are one domain); then
    the provider's rule in ``PETITIONS["EMAIL_PROVIDERS"]``, if it has one, drops a sub-address
    tag, dots, or names the main domain: ``a.d.a+x@googlemail.com`` is ``ada@gmail.com``, while
    ``a.da@example.org`` stays itself, since nobody knows what example.org delivers where.

    The canonical form is its own canonical form. It may be longer than the address as typed
    (punycode): the sign form refuses an address whose form is over ``MAX_LENGTH``. Never raises:
    text that is not an address folds case only.
    """
    email = (email or "").strip()
    local, at, domain = email.rpartition("@")
    if not at:
        return email.casefold()
    local, domain = local.casefold(), canonical_domain(domain)
    rule = get_setting("EMAIL_PROVIDERS").get(domain)
    if rule:
        local, domain = _fold_local_part(local, rule), rule.get("domain", domain)
    return f"{local}@{domain}"


def _fold_local_part(local, rule):
    separator = rule.get("tag")
    if separator:
        base, found, _ = local.partition(separator)
        if found and base:  # a tag with nothing before it is the whole name, not a tag
            local = base + separator if rule.get("keep_separator") else base
    if rule.get("dots", True) is False:
        local = local.replace(".", "") or local
    return local


@functools.lru_cache(maxsize=4096)
def canonical_domain(domain: str) -> str:
    """A domain's lowercase ASCII form, the same however it was typed.

    IDNA 2008 with the UTS 46 mapping browsers apply (case, full-width letters, "。"), not
    transitional: ``straße.de`` is a domain of its own, not ``strasse.de``. What IDNA 2008 refuses
    but Django's validator accepted (an address literal, a symbol IDNA 2003 allowed) takes IDNA
    2003's form, the one the validator checked; anything else folds case.
    """
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        pass
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.casefold()


def disposable_domain(email: str) -> str | None:
    """The listed disposable domain an address is at (or under), or None if it may sign.

    The list is the disposable-email-domains package's; ``PETITIONS["DISPOSABLE_DOMAINS_ALLOWED"]``
    names domains a site accepts all the same (with their subdomains).
    """
    labels = canonical_domain((email or "").strip().rpartition("@")[2]).split(".")
    parents = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    allowed = {canonical_domain(domain) for domain in get_setting("DISPOSABLE_DOMAINS_ALLOWED")}
    if allowed.intersection(parents):
        return None
    return next((domain for domain in parents if domain in DISPOSABLE_DOMAINS), None)


def address_hash(address: str) -> str:
    """An inbox as a key: the SHA-256 of the canonical address (the suppression list, the daily email cap).

    Stable across SECRET_KEY changes, so a suppressed address stays suppressed. Where the hash must not
    lead back to a guessed address (the erasure log), ``cms.erasure`` keys it with the site's secret.
    """
    return hashlib.sha256(normalize_email(address).encode()).hexdigest()
