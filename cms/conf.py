"""The plugin's settings, read through one accessor.

A host project overrides any key in one dict::

    PETITIONS = {"VERIFY_TOKEN_MAX_AGE": 3 * 24 * 3600}

A page attribute of the same name in lower case (e.g. ``feed_size``) wins
over the global value where :func:`get_setting` is given the page.
"""

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    # Cache alias holding live counts and feeds (Redis in production).
    "CACHE_ALIAS": "default",
    # Dotted path of the counter store (a cms.store.BaseStore); None: RedisStore for a Redis
    # cache (Django's or django-redis), CacheStore for any other cache.
    "STORE": None,
    # The model signatures are stored in, "app_label.ModelName": a subclass of AbstractSignature.
    "SIGNATURE_MODEL": "petitions_cms.Signature",
    # Absolute base URL for links in emails, e.g. "https://petitions.example.org".
    "SITE_URL": None,
    # How long a verification link stays valid, in seconds.
    "VERIFY_TOKEN_MAX_AGE": 14 * 24 * 3600,
    # How long a signer's "manage my signature" link (emailed, and on the thank-you page) stays valid,
    # in seconds. Long, so the signer can withdraw years later; each link is revocable on its own
    # (cms.manage.revoke_links), and withdrawing ends it.
    "MANAGE_TOKEN_MAX_AGE": 2 * 365 * 24 * 3600,
    # A pending signer who signs again gets a new email at most this often.
    "RESEND_MIN_INTERVAL": 5 * 60,
    # How long the unsubscribe link in update emails works, in seconds (None: for ever). Mailbox
    # providers keep the List-Unsubscribe URL of an old email and POST to it whenever the signer
    # presses their "Unsubscribe" button, so a link that expires would leave them no way out.
    "UNSUBSCRIBE_TOKEN_MAX_AGE": None,
    # Emails not handed to the ESP after this long are re-enqueued by the sweeper.
    "EMAIL_OVERDUE_AFTER": 2 * 60,
    # Verification emails one recipient (its canonical address) gets a day, across all petitions
    # (None: no cap). Anyone can type any address into a public form; this caps what our sender
    # mails a stranger. Counted by the sending worker, so resends and the sweeper's count too.
    "EMAILS_PER_ADDRESS_PER_DAY": 5,
    # The proxies in front of the site, whose X-Forwarded-For entries name the client (cms.clientip):
    # their number (every request passes that many, e.g. 1 for one nginx), or their networks
    # (["10.0.0.0/8", "2001:db8::/32"]). 0 or (): none, the client is REMOTE_ADDR. Behind a proxy,
    # leaving this unset puts every visitor in the proxy's one rate-limit bucket.
    "TRUSTED_PROXIES": 0,
    # Sign POSTs (valid or not, refused ones too) allowed per client and petition: a client is an
    # IPv4 address or an IPv6 /64. Two fixed windows, as the UK Parliament's petitions site has
    # (alphagov/e-petitions RateLimit: burst_rate/burst_period, sustained_rate/sustained_period,
    # there 1 a minute and 5 in 5 minutes, applied after the fact by marking signatures fraudulent).
    # Here the limits refuse at once (429), and one address is often many people (a household,
    # an office or a mobile network's NAT), so they are looser:
    # the burst: 20 a minute stops a script, and no family or office signs faster by hand;
    "RATE_LIMIT": 20,
    "RATE_LIMIT_WINDOW": 60,
    # the sustained: 100 an hour stops a script that keeps under the burst (20 a minute would be
    # 1,200 an hour). A shared address (a university, a mobile NAT) on a viral petition may need
    # more. None switches either limit off.
    "RATE_LIMIT_SUSTAINED": 100,
    "RATE_LIMIT_SUSTAINED_WINDOW": 3600,
    # Addresses never rate-limited, honoured only with DEBUG on (local load tests); outside DEBUG
    # the system check petitions.E020 refuses it: behind a proxy it would switch the limit off for
    # everyone. Load tests send X-Forwarded-For through a trusted proxy instead (bench/run.py).
    "RATE_LIMIT_ALLOW": (),
    # An optional challenge (CAPTCHA) before a signature is stored (cms.challenge; README: "Challenge
    # (CAPTCHA)"). None: none. Otherwise a dict:
    #   "PROVIDER":   "turnstile", "hcaptcha", or the dotted path of a cms.challenge.BaseChallenge;
    #   "SITE_KEY", "SECRET_KEY": the provider's keys (required);
    #   "MODE":       "always" (every sign) or "threshold" (default "always");
    #   "THRESHOLD":  threshold mode: signs a minute on one petition above which it is required (30),
    #   "HOLD_SECONDS": and for how long after the rate last passed it (600);
    #   "FAIL_OPEN":  True (default): when the provider cannot answer (down, slow, garbage) the sign
    #                 goes through, logged; False: it is refused with a 503 and Retry-After;
    #   "TIMEOUT":    seconds to wait for the provider (5);
    #   "VERIFY_URL", "SCRIPT_URL": override the provider's siteverify and script URLs (tests, proxies);
    #   "HOSTNAMES":  hosts a token may be solved on; None: this site's and ALLOWED_ORIGINS'.
    "CHALLENGE": None,
    # How many signers the feed keeps in cache.
    "FEED_SIZE": 30,
    # The reconcile task counts up to this many seconds before now, so a
    # verification still committing is counted by the next run, not lost.
    "RECONCILE_LAG": 2,
    # The largest signature total one paper batch may record (cms.models.offline): a typo of a few
    # extra digits is refused rather than published as the petition's count.
    "OFFLINE_BATCH_MAX": 1_000_000,
    # Signers wake the outbox drain task once per drain; this expiry only
    # guards against a wake-up that was lost (the beat drain is the backstop).
    "OUTBOX_NUDGE_MS": 1000,
    # Verification emails one send task handles.
    "OUTBOX_BATCH": 25,
    # After a temporary ESP failure (a 5xx, a timeout, a refused connection) every worker holds its
    # verification emails this many seconds before trying again: a failing ESP gets one probe per
    # interval, not one request per batch and retry. They stay owed meanwhile. 0: off.
    "ESP_PAUSE_SECONDS": 5,
    # How long a web process reuses a count or a cached page it just read (0: always ask Redis).
    "LOCAL_CACHE_SECONDS": 1,
    # How long a web process reuses a petition page it looked up for a sign or confirm POST.
    "PAGE_LOOKUP_SECONDS": 2,
    # Anonymous visitors get petition pages from a shared cache this long (0: never).
    "PAGE_CACHE_SECONDS": 5,
    # A cached petition page is kept this many seconds after it was stored (0: only while fresh), and
    # served instead of an error when a new render fails (the database or Redis is down): the
    # header "X-Petitions-Cache: stale". Fresh copies are served for PAGE_CACHE_SECONDS as before.
    "PAGE_STALE_SECONDS": 24 * 3600,
    # Added to the Cache-Control of every public answer (the petition page, count.json, the API's
    # petition list and detail): how long a CDN may answer from its copy while fetching a new one
    # (stale-while-revalidate), and while the origin fails (stale-if-error), in seconds (RFC 5861;
    # None or 0 leaves the directive out). Private, per-signer and error answers never carry them.
    "STALE_WHILE_REVALIDATE": 30,
    "STALE_IF_ERROR": 24 * 3600,
    # The Retry-After, in seconds, of the 503 answered while the database or Redis is down
    # (cms.outage, cms.middleware.OutageMiddleware).
    "OUTAGE_RETRY_AFTER": 30,
    # Origins (besides the site's own host) whose pages may POST signatures.
    "ALLOWED_ORIGINS": (),
    # Seconds the cached count and feed live before a reconcile must refresh them.
    "CACHE_TIMEOUT": 24 * 3600,
    # ESP tags set on every verification email.
    "VERIFICATION_EMAIL_TAGS": ("petition-verification",),
    # Sender of petition emails; falls back to DEFAULT_FROM_EMAIL.
    "FROM_EMAIL": None,
    # The domains a campaign's from and reply-to addresses may use (cms.identity); None: the
    # domain of FROM_EMAIL (or DEFAULT_FROM_EMAIL) only. List only domains your ESP may send for.
    "SENDER_DOMAINS": None,
    # How long CDNs and browsers may keep the JSON API's public answers (petition lists and details), in seconds.
    "API_CACHE_SECONDS": 5,
    # One inbox signs once: the mail providers whose addresses fold further than case and the
    # IDNA form of the domain (cms.addresses.normalize_email). A domain, in lowercase ASCII
    # (punycode for an IDN), maps to a rule:
    #   "tag":    the separator of a sub-address ("ada+news@"): it and what follows it go;
    #   "dots":   False where the provider ignores dots in the local part;
    #   "domain": the provider's main domain, which this one is the same inbox as;
    #   "keep_separator": True where the text before the tag is not itself an address (Yahoo).
    # Only behaviour the provider documents (or that its sign-in makes certain) is listed: a rule
    # that folds too far makes two people one, and the second never gets to sign. Replace the
    # dict to change it ({} folds case and domains only); rows signed before a change keep the
    # form they were stored with. Sources, 2026-11:
    "EMAIL_PROVIDERS": {
        # Gmail: "dots don't matter" and "+anything" reaches the inbox (Google Account Help, "Gmail
        # aliases"); googlemail.com is the same service under the name used in Germany and the UK.
        # (Google Workspace addresses on other domains do count dots: not listed.)
        "gmail.com": {"tag": "+", "dots": False},
        "googlemail.com": {"tag": "+", "dots": False, "domain": "gmail.com"},
        # Outlook.com "plus addressing" (Microsoft, since 2013); dots are part of the address.
        "outlook.com": {"tag": "+"},
        "hotmail.com": {"tag": "+"},
        "live.com": {"tag": "+"},
        "msn.com": {"tag": "+"},
        # Fastmail "plus addressing" (its subdomain addressing, tag@ada.fastmail.com, is not folded).
        "fastmail.com": {"tag": "+"},
        "fastmail.fm": {"tag": "+"},
        # Proton Mail "+aliases"; an account's name is one across proton.me, protonmail.com,
        # protonmail.ch and pm.me (sign-in takes the bare name; pm.me is "the short version").
        # Proton also delivers name with ".", "-" or "_" removed, but does not document it: not folded.
        "proton.me": {"tag": "+"},
        "protonmail.com": {"tag": "+", "domain": "proton.me"},
        "protonmail.ch": {"tag": "+", "domain": "proton.me"},
        "pm.me": {"tag": "+", "domain": "proton.me"},
        # iCloud Mail takes +tags; an account with a me.com or mac.com address has the same name
        # at icloud.com (Apple Support, "About your @icloud.com, @me.com, and @mac.com addresses").
        "icloud.com": {"tag": "+"},
        "me.com": {"tag": "+", "domain": "icloud.com"},
        "mac.com": {"tag": "+", "domain": "icloud.com"},
        # Yahoo Mail has no +tags; its disposable addresses are "basename-keyword@yahoo.com" (Yahoo
        # Help, "disposable email addresses"), and a Yahoo ID is letters, digits, "_" and one ".".
        # The base name is no address of its own, so the canonical form keeps the "-"
        # ("basename-@yahoo.com"): it never equals the address of the Yahoo ID "basename".
        "yahoo.com": {"tag": "-", "keep_separator": True},
    },
    # Share cards (cms.share_cards): the font the generated card is drawn in, a TrueType or OpenType
    # file's path; None: the Noto fonts shipped in cms/fonts, each character in the first that has it
    # (Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Chinese).
    "SHARE_CARD_FONT": None,
    # How long browsers, CDNs and social networks may keep a card fetched at its current version
    # (the page's og:image URL); one fetched at an older or no version is kept a minute at most.
    "SHARE_CARD_CACHE_SECONDS": 24 * 3600,
    # How long a drawn card stays in the plugin's cache (each count bucket is a new card).
    "SHARE_CARD_STORE_SECONDS": 7 * 24 * 3600,
    # Signatures one UPDATE of a bulk invalidation marks (cms.fraud.run_invalidation); each batch is
    # its own short transaction, so signers confirming meanwhile never wait long on its row locks.
    "INVALIDATION_BATCH": 5000,
    # The admin's signatures listing counts at most this many rows for its pagination (40 pages of 25),
    # so a million need no COUNT over every row per page view (cms.signature_listing): past it, it says
    # "more than" and a lead narrows by filters. A filter on unindexed columns (country and source)
    # reads about LIMIT / its share of rows to count, so a higher limit costs more there (bench/listing.py).
    "LISTING_COUNT_LIMIT": 1000,
    # Retention (cms.retention; README: "Retention"): three daily beat tasks, each off when None.
    # Pending signatures are deleted this many days after their last verification email was asked
    # for: an address that never confirmed gave no consent to be kept. Keep it longer than a
    # verification link lives (VERIFY_TOKEN_MAX_AGE; system check petitions.W040).
    "RETENTION_UNVERIFIED_DAYS": 30,
    # Every signature of a petition is anonymised this many months after it closes (as the UK
    # Parliament's petitions site does, six months on: alphagov/e-petitions AnonymizePetitionsJob):
    # personal fields blanked (AbstractSignature.PERSONAL_FIELDS), status and country kept, so
    # counts and tallies stay. A petition with no closing time is never anonymised.
    "RETENTION_ANONYMISE_MONTHS": 6,
    # A delivery's CSV and PDF (signers' names) are deleted this many days after it was sent (or
    # prepared, if never sent); its record, letter and totals stay.
    "RETENTION_DELIVERY_FILES_DAYS": 30,
    # Rows one retention statement deletes or anonymises: each batch is its own short transaction.
    "RETENTION_BATCH": 5000,
    # The admin's insights (cms.insights_report): hours shown one by one before the chart goes
    # daily, and how many countries and sources the report lists (the CSV has every source).
    "INSIGHTS_HOURLY_HOURS": 48,
    "INSIGHTS_TOP": 20,
    # How many of a lead's live petitions the dashboard panel lists (most recently published first).
    "INSIGHTS_DASHBOARD_PETITIONS": 10,
    # Addresses at the domains the disposable-email-domains package lists (and their subdomains)
    # cannot sign; a domain named here may all the same (the list has had false positives).
    "DISPOSABLE_DOMAINS_ALLOWED": (),
    # The delivery PDF's fonts, a fallback chain: [(regular, bold or None), ...], file paths or names
    # in cms/fonts; the first font that holds a character prints it (cms.pdf_text). None: the Noto
    # fonts shipped in cms/fonts (Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, CJK).
    "DELIVERY_PDF_FONTS": None,
    # Outgoing webhooks (cms.webhooks; docs/api.md "Webhooks").
    # Seconds to wait for a receiver: (connect, read). A slow or silent receiver fails the attempt,
    # which is retried, rather than holding a worker.
    "WEBHOOKS_TIMEOUT": (3, 10),
    # Retries go on for this long after an event (or its last "redeliver"), then it is dead-lettered.
    "WEBHOOKS_RETRY_WINDOW": 24 * 3600,
    # The first retry's delay and the longest one, in seconds: each doubles, with jitter.
    "WEBHOOKS_RETRY_BASE": 30,
    "WEBHOOKS_RETRY_MAX": 3600,
    # Let endpoints on loopback, private, link-local or reserved addresses (development only):
    # otherwise such a URL is refused when registered and again when sent to (DNS rebinding).
    "WEBHOOKS_ALLOW_PRIVATE": False,
}


def get_setting(name, page=None):
    """Return the PETITIONS[name] setting, or its default.

    A page attribute named ``name.lower()`` that is not None wins.
    """
    if name not in DEFAULTS:
        raise ImproperlyConfigured(f"Unknown petitions setting {name!r}")
    if page is not None:
        value = getattr(page, name.lower(), None)
        if value is not None:
            return value
    return getattr(settings, "PETITIONS", {}).get(name, DEFAULTS[name])


def get_signature_model_string() -> str:
    """``PETITIONS["SIGNATURE_MODEL"]`` as "app_label.ModelName", for relations and migrations."""
    return get_setting("SIGNATURE_MODEL")


def get_signature_model():
    """The model every signature query uses, in the manner of Wagtail's ``get_image_model()``.

    Point ``PETITIONS["SIGNATURE_MODEL"]`` at a concrete subclass of
    ``cms.models.AbstractSignature`` to store extra fields.
    """
    name = get_signature_model_string()
    try:
        return apps.get_model(name, require_ready=False)
    except ValueError:
        raise ImproperlyConfigured(f"PETITIONS['SIGNATURE_MODEL'] must be 'app_label.ModelName', not {name!r}")
    except LookupError:
        raise ImproperlyConfigured(f"PETITIONS['SIGNATURE_MODEL'] refers to {name!r}, which is not installed")


def absolute_url(path: str, page=None) -> str:
    """``path`` on ``SITE_URL``, or else on the root URL of ``page``'s site: a link an email can carry."""
    base = get_setting("SITE_URL")
    if not base and page is not None:
        site = page.get_site()
        base = site.root_url if site else ""
    return (base or "").rstrip("/") + path
