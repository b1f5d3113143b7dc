"""An optional challenge (CAPTCHA) before a signature is stored: Cloudflare Turnstile or hCaptcha.

Off unless ``PETITIONS["CHALLENGE"]`` is set (see ``cms.conf``). The sign form
(``cms.page_views.serve_sign``), the JSON API and anonymous OSDI calls
(``cms.api.base.store_signature``) call :func:`check` once the fields are
valid and before anything is stored, so a refusal says nothing about the
address. The provider's verdict comes from its siteverify endpoint, over
HTTP with a short timeout; what happens when it cannot answer is
``FAIL_OPEN``'s decision.

A provider is a :class:`BaseChallenge` subclass; ``PROVIDER`` names one of
:data:`PROVIDERS` or gives a dotted path to another.
"""

import json
import logging
from dataclasses import dataclass
from urllib.error import URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request, urlopen

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.http.request import split_domain_port
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

from .conf import get_setting
from .ratelimit import attempts, client_address, count_attempt
from .store import CHALLENGE_FAILURES_KEY, CHALLENGE_HOLD_KEY, CHALLENGE_RATE_KEY

logger = logging.getLogger("petitions.challenge")

#: The action our widgets declare (Turnstile's ``data-action``); a token solved for another is refused.
ACTION = "petition-sign"
#: The window, in seconds, of the sign rate threshold mode compares with THRESHOLD.
RATE_WINDOW = 60
#: After this many failed calls to the provider within PAUSE_SECONDS, the rest of that time
#: is answered as "unavailable" without waiting on it (a sign request must not hang on an outage).
FAILURES_BEFORE_PAUSE = 3
PAUSE_SECONDS = 30

CONFIG_KEYS = {
    "PROVIDER",
    "SITE_KEY",
    "SECRET_KEY",
    "MODE",
    "THRESHOLD",
    "HOLD_SECONDS",
    "FAIL_OPEN",
    "TIMEOUT",
    "VERIFY_URL",
    "SCRIPT_URL",
    "HOSTNAMES",
}
CONFIG_DEFAULTS = {
    "MODE": "always",
    "THRESHOLD": 30,
    "HOLD_SECONDS": 600,
    "FAIL_OPEN": True,
    "TIMEOUT": 5,
    "VERIFY_URL": None,
    "SCRIPT_URL": None,
    "HOSTNAMES": None,
}


class ChallengeUnavailable(Exception):
    """The provider could not give a verdict: unreachable, slow, an error, or an answer that is not its JSON."""


@dataclass(frozen=True)
class ChallengeRefusal:
    status: int
    code: str
    detail: str
    retry_after: int | None = None


REQUIRED = ChallengeRefusal(400, "challenge_required", _("Please complete the check below."))
FAILED = ChallengeRefusal(
    400, "challenge_failed", _("The check did not succeed. Please complete the check below again.")
)
UNAVAILABLE = ChallengeRefusal(
    503,
    "challenge_unavailable",
    _("We cannot check signatures right now. Please try again in a few minutes."),
    retry_after=PAUSE_SECONDS,
)


class BaseChallenge:
    """A challenge provider: its widget, its siteverify call, and what its answer must say.

    Subclasses set the class attributes and may override :meth:`verify_params`
    and :meth:`accepts`. ``config`` is ``PETITIONS["CHALLENGE"]`` with its defaults.
    """

    name = ""
    #: Where tokens are verified (``VERIFY_URL`` overrides it) and the widget's script (``SCRIPT_URL``).
    verify_url = ""
    script_url = ""
    #: The form field the widget fills in with its token.
    response_field = ""
    #: The class of the element the script turns into a widget.
    widget_class = ""
    #: What a Content-Security-Policy must allow for the widget, by directive.
    csp = {}
    #: Longer tokens are refused without asking the provider.
    max_token_length = 4096

    def __init__(self, config):
        self.config = {**CONFIG_DEFAULTS, **config}
        self.site_key = self.config["SITE_KEY"]
        self.secret_key = self.config["SECRET_KEY"]

    @property
    def mode(self):
        return self.config["MODE"]

    def get_script_url(self):
        return self.config["SCRIPT_URL"] or self.script_url

    def verify_params(self, token, remoteip):
        params = {"secret": self.secret_key, "response": token}
        if remoteip:
            params["remoteip"] = remoteip
        return params

    def siteverify(self, token, remoteip) -> dict:
        """POST the token to the provider; its JSON answer, or ChallengeUnavailable."""
        url = self.config["VERIFY_URL"] or self.verify_url
        if urlsplit(url).scheme not in ("https", "http"):  # the system check refuses others too
            raise ChallengeUnavailable(f"not an HTTP URL: {url}")
        request = Request(  # noqa: S310 (http(s) only, checked above)
            url,
            data=urlencode(self.verify_params(token, remoteip)).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            method="POST",
        )
        try:
            with urlopen(request, timeout=self.config["TIMEOUT"]) as response:  # noqa: S310
                answer = json.loads(response.read(65536))
        except (URLError, OSError, ValueError) as exc:  # refused, timed out, an HTTP error, not JSON
            raise ChallengeUnavailable(str(exc) or exc.__class__.__name__) from exc
        if not isinstance(answer, dict) or not isinstance(answer.get("success"), bool):
            raise ChallengeUnavailable("the answer is not a siteverify verdict")
        return answer

    def accepts(self, answer, hostnames) -> bool:
        """Whether a verdict lets the signature in: a success, for one of our hosts and our action."""
        if answer.get("success") is not True:
            return False
        hostname = answer.get("hostname")
        if hostname and hostnames is not None and hostname.lower() not in hostnames:
            return False
        action = answer.get("action")
        return not action or action == ACTION

    def verify(self, token, remoteip, hostnames=None) -> bool:
        """The provider's verdict on ``token``; an empty one asks whether the provider is there at all."""
        if len(token) > self.max_token_length:
            return False
        return self.accepts(self.siteverify(token, remoteip), hostnames)

    def describe(self):
        """What an API client needs to render the widget."""
        return {
            "provider": self.name,
            "site_key": self.site_key,
            "script": self.get_script_url(),
            "action": ACTION,
            "mode": self.mode,
        }


class Turnstile(BaseChallenge):
    """Cloudflare Turnstile (https://developers.cloudflare.com/turnstile/)."""

    name = "turnstile"
    verify_url = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    script_url = "https://challenges.cloudflare.com/turnstile/v0/api.js"
    response_field = "cf-turnstile-response"
    widget_class = "cf-turnstile"
    csp = {
        "script-src": ["https://challenges.cloudflare.com"],
        "frame-src": ["https://challenges.cloudflare.com"],
    }
    max_token_length = 2048  # Cloudflare's documented maximum


class HCaptcha(BaseChallenge):
    """hCaptcha (https://docs.hcaptcha.com/): the site key goes along, so a token of another site's key fails."""

    name = "hcaptcha"
    verify_url = "https://api.hcaptcha.com/siteverify"
    script_url = "https://js.hcaptcha.com/1/api.js"
    response_field = "h-captcha-response"
    widget_class = "h-captcha"
    csp = {
        "script-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
        "frame-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
        "style-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
        "connect-src": ["https://hcaptcha.com", "https://*.hcaptcha.com"],
    }

    def verify_params(self, token, remoteip):
        return {**super().verify_params(token, remoteip), "sitekey": self.site_key}


PROVIDERS = {"turnstile": Turnstile, "hcaptcha": HCaptcha}


def provider_class(name):
    if name in PROVIDERS:
        return PROVIDERS[name]
    cls = import_string(name)
    if not (isinstance(cls, type) and issubclass(cls, BaseChallenge)):
        raise TypeError(f"{name} is not a cms.challenge.BaseChallenge subclass")
    return cls


def get_challenge():
    """The configured provider, or None when no challenge is configured."""
    config = get_setting("CHALLENGE")
    if not config:
        return None
    return provider_class(config["PROVIDER"])(config)


# --- deciding, per sign ---------------------------------------------------------------------------


def required(provider, page) -> bool:
    """Whether this sign must pass the challenge; in threshold mode, counts it in the petition's rate.

    Once the signs on a petition pass THRESHOLD within a minute, every sign
    for HOLD_SECONDS after must pass it (an attack that pauses at each new
    minute would otherwise get THRESHOLD signatures a minute through).
    """
    if provider.mode == "always":
        return True
    # Counted in the store, or in the process while it is down (cms.ratelimit.count_attempt).
    hold = CHALLENGE_HOLD_KEY.format(page.pk)
    if count_attempt(CHALLENGE_RATE_KEY.format(page.pk), RATE_WINDOW) > provider.config["THRESHOLD"]:
        count_attempt(hold, provider.config["HOLD_SECONDS"])
        return True
    return attempts(hold) > 0


def expected_hostnames(request):
    """The hosts a token may be solved on: HOSTNAMES, else this site's and its allowed partners'."""
    listed = get_setting("CHALLENGE").get("HOSTNAMES")
    if listed is not None:
        return {name.lower() for name in listed}
    hosts = {split_domain_port(request.get_host())[0]}
    hosts.update(urlsplit(origin).hostname or "" for origin in get_setting("ALLOWED_ORIGINS"))
    return {host.lower() for host in hosts if host}


def check(page, request, token) -> ChallengeRefusal | None:
    """None when this sign may be stored; otherwise the refusal to answer with. Call before storing."""
    provider = get_challenge()
    if provider is None or not required(provider, page):
        return None
    fail_open = provider.config["FAIL_OPEN"]
    if not token and not fail_open:
        return REQUIRED
    # Failing open, a sign without a token asks the provider too: when it is down its widget cannot
    # load either, and signers must not be stuck behind a check nobody can pass.
    if attempts(CHALLENGE_FAILURES_KEY) >= FAILURES_BEFORE_PAUSE:  # logged when it failed
        return None if fail_open else UNAVAILABLE
    try:
        passed = provider.verify(token, client_address(request), expected_hostnames(request))
    except ChallengeUnavailable as exc:
        count_attempt(CHALLENGE_FAILURES_KEY, PAUSE_SECONDS)
        outcome = "let through" if fail_open else "refused"
        logger.warning("%s could not verify a challenge (%s): the signature is %s", provider.name, exc, outcome)
        return None if fail_open else UNAVAILABLE
    if passed:
        return None
    return FAILED if token else REQUIRED


def widget(page_required=False):
    """What the sign form's template renders, or None: always mode always, threshold mode when asked for."""
    provider = get_challenge()
    if provider is None or (provider.mode != "always" and not page_required):
        return None
    return {
        "script": provider.get_script_url(),
        "widget_class": provider.widget_class,
        "site_key": provider.site_key,
        "action": ACTION,
    }


# --- configuration check --------------------------------------------------------------------------


def _config_problems(config):
    if not isinstance(config, dict):
        return ["must be None or a dict"]
    problems = [f"unknown key {key!r}" for key in sorted(set(config) - CONFIG_KEYS)]
    for key in ("SITE_KEY", "SECRET_KEY"):
        if not config.get(key):
            problems.append(f"{key} is missing")
    try:
        provider_class(config.get("PROVIDER") or "")
    except (ImportError, TypeError, ValueError) as exc:
        problems.append(f"PROVIDER must be 'turnstile', 'hcaptcha' or the dotted path of a BaseChallenge ({exc})")
    config = {**CONFIG_DEFAULTS, **config}
    if config["MODE"] not in ("always", "threshold"):
        problems.append("MODE must be 'always' or 'threshold'")
    threshold = config["THRESHOLD"]
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        problems.append("THRESHOLD must be a whole number of signs a minute, at least 1")
    for key in ("VERIFY_URL", "SCRIPT_URL"):
        if config[key] is not None and urlsplit(str(config[key])).scheme not in ("https", "http"):
            problems.append(f"{key} must be an http(s) URL")
    return problems


@register()
def check_challenge_settings(app_configs, **kwargs):
    config = get_setting("CHALLENGE")
    if config is None:
        return []
    problems = _config_problems(config)
    if problems:
        return [Error(f"PETITIONS['CHALLENGE']: {'; '.join(problems)}.", id="petitions.E030")]
    return _check_csp(get_challenge())


def _check_csp(provider):
    """With django-csp's settings present, warn when they would block the provider's widget."""
    policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    directives = (policy or {}).get("DIRECTIVES") if isinstance(policy, dict) else None
    if not directives:
        return []
    missing = []
    for directive, sources in provider.csp.items():
        allowed = directives.get(directive, directives.get("default-src", []))
        missing += [f"{directive} {source}" for source in sources if source not in allowed]
    if not missing:
        return []
    return [
        Warning(
            f"The Content-Security-Policy blocks the {provider.name} widget: it lacks {', '.join(missing)}.",
            hint="Add these sources to CONTENT_SECURITY_POLICY['DIRECTIVES'] (README: Challenge (CAPTCHA)).",
            id="petitions.W030",
        )
    ]
