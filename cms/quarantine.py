"""Which signatures the fraud rules flag: asked by the confirm path, so kept light and cached.

Imports no models (``cms.signing`` sits below the models' deferred imports): the rules are
read through the app registry, as ``cms.conf.get_signature_model`` reads the signature model.
The flows that act on flagged signatures are ``cms.fraud``.
"""

import ipaddress
import logging

from django.apps import apps

from .addresses import normalize_email
from .conf import get_setting
from .degraded import warn
from .localcache import LocalMemo
from .store import get_cache

logger = logging.getLogger("petitions")

EMAIL, DOMAIN, IP = "email", "domain", "ip"  # FraudRule.Kind
RULES_KEY = "petitions:fraud-rules:v2"  # (kind, value, campaign path)
_memo = LocalMemo()


def load_rules() -> list:
    """Every rule as (kind, value, campaign path or ""): from this process's memo, the shared cache,
    or (on a miss) the table.

    The confirm path asks this once per confirmation: no query while the cache holds the list
    (an empty list too), one small one when it does not. Saving or deleting a rule forgets it
    (``forget_rules``, connected in ``cms.receivers``).
    """
    rules = _memo.get(RULES_KEY)
    if rules is not None:
        return rules
    try:
        rules = get_cache().get(RULES_KEY)
    except Exception as exc:  # the cache is down: the table is the truth
        warn(logger, "Fraud rules read from the database: the cache is unavailable", exc)
    if rules is None:
        rows = apps.get_model("petitions_cms", "FraudRule").objects.values_list("kind", "value", "campaign__path")
        rules = [(*_canonical(kind, value), path or "") for kind, value, path in rows]
        try:
            get_cache().set(RULES_KEY, rules, timeout=get_setting("CACHE_TIMEOUT"))
        except Exception as exc:
            warn(logger, "Fraud rules not cached: the cache is unavailable", exc)
    _memo.set(RULES_KEY, rules)
    return rules


def _canonical(kind, value):
    """A rule in the form signatures store (the admin's form cleans it so; a rule made in code may not be)."""
    value = value.strip()
    if kind == EMAIL:
        return kind, normalize_email(value)
    if kind == DOMAIN:
        return kind, normalize_email(f"x@{value.lower().rstrip('.')}").rpartition("@")[2]
    return kind, value


def forget_rules():
    """Drop the cached rules (after a rule is saved or deleted); the next confirmation reads the table."""
    _memo.items.pop(RULES_KEY, None)
    get_cache().delete(RULES_KEY)


def is_flagged(rules, email_normalized: str, ip: str | None, page_path: str = "") -> bool:
    """Whether any rule watching the petition at ``page_path`` flags this canonical address or client address.

    A rule of a campaign watches the pages under it (a Wagtail tree path prefix); one without, every page.
    """
    domain = (email_normalized or "").rpartition("@")[2]
    address = None
    for kind, value, campaign_path in rules:
        if campaign_path and not page_path.startswith(campaign_path):
            continue
        if kind == EMAIL and value == email_normalized:
            return True
        if kind == DOMAIN and (domain == value or domain.endswith("." + value)):
            return True
        if kind == IP and ip:
            if address is None:
                address = ipaddress.ip_address(ip)
            network = ipaddress.ip_network(value, strict=False)
            if address.version == network.version and address in network:
                return True
    return False


def clean_client_address(value) -> str | None:
    """A client address fit to store (None for an empty or malformed one)."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None
