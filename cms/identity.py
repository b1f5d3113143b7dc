"""A campaign's identity: who its emails come from, its logo, its accent colour, its privacy notice.

Held on ``CampaignIndexPage``; a petition takes the identity of its nearest campaign ancestor
(``PetitionMixin.get_identity``), and a petition outside any campaign gets ``SITE_IDENTITY``, the
site's defaults. Rules on what may be saved (allowed sender domains, a readable accent colour)
live here, so the page editor, the demo loader and tests refuse the same values.
"""

import re
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from .conf import get_setting

ACCENT_PATTERN = re.compile(r"#[0-9a-f]{6}")
#: WCAG 2 AA for body text: the accent is a background for white text (buttons) and a text
#: colour on the light paper, so it must reach this ratio against white.
MIN_CONTRAST = 4.5


def default_from_email() -> str:
    """The site's sender address: ``PETITIONS["FROM_EMAIL"]``, else ``DEFAULT_FROM_EMAIL``."""
    return get_setting("FROM_EMAIL") or settings.DEFAULT_FROM_EMAIL


def sender_domains() -> list:
    """The domains a campaign may send from: ``PETITIONS["SENDER_DOMAINS"]``, else the site sender's domain only."""
    domains = get_setting("SENDER_DOMAINS")
    if domains is None:
        domains = [parseaddr(default_from_email())[1].rpartition("@")[2]]
    return [domain.lower().strip() for domain in domains if domain]


def validate_sender_address(address: str):
    """Refuse an address outside the allowed domains: mail from them would fail SPF/DMARC, or spoof someone."""
    domain = address.rpartition("@")[2].lower()
    allowed = sender_domains()
    if domain not in allowed:
        raise ValidationError(
            gettext("Emails can only be sent from these domains: %(domains)s.") % {"domains": ", ".join(allowed)},
            code="sender_domain",
        )


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour."""
    channels = []
    for start in (1, 3, 5):
        c = int(colour[start : start + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    red, green, blue = channels
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_with_white(colour: str) -> float:
    return 1.05 / (relative_luminance(colour) + 0.05)


def validate_accent_colour(value: str):
    """Accept ``#rrggbb`` (either case) dark enough for white text on it; anything else is refused, never escaped."""
    if not ACCENT_PATTERN.fullmatch((value or "").lower()):
        raise ValidationError(gettext("Write the colour as # and six hexadecimal digits, e.g. #1a5fb4."), code="format")
    if contrast_with_white(value.lower()) < MIN_CONTRAST:
        raise ValidationError(
            gettext("This colour is too light: white text on it would be hard to read. Choose a darker one."),
            code="contrast",
        )


@dataclass(frozen=True)
class CampaignIdentity:
    """What a petition's pages, emails and delivery files show of the campaign it belongs to."""

    #: The CampaignIndexPage it comes from, or None for the site's defaults.
    campaign: object = None
    sender_name: str = ""
    from_email: str = ""
    reply_to: str = ""
    #: A Wagtail image, or None.
    logo: object = None
    #: "#rrggbb" in lowercase, or "" for the stylesheet's own.
    accent: str = ""

    def from_header(self) -> str:
        """The From header: "Sender name <from@allowed>", or the site's sender when the campaign sets none."""
        address = self.from_email or default_from_email()
        if not self.sender_name:
            return address
        _, bare = parseaddr(address)  # DEFAULT_FROM_EMAIL may hold a name of its own
        # A single line: an editor's text never becomes a header of its own.
        return formataddr((" ".join(self.sender_name.split()), bare or address))

    def reply_to_list(self) -> list:
        return [self.reply_to] if self.reply_to else []

    def accent_rgb(self):
        """The accent as PDF colour components (0–1), or None."""
        if not self.accent:
            return None
        return tuple(round(int(self.accent[i : i + 2], 16) / 255, 3) for i in (1, 3, 5))


SITE_IDENTITY = CampaignIdentity()


def identity_of(campaign) -> CampaignIdentity:
    if campaign is None:
        return SITE_IDENTITY
    return CampaignIdentity(
        campaign=campaign,
        sender_name=campaign.sender_name,
        from_email=campaign.from_email,
        reply_to=campaign.reply_to_email,
        logo=campaign.logo,
        accent=(campaign.accent_colour or "").lower(),
    )
