from .officials import Official
from .pages import CampaignIndexPage, PetitionMixin, PetitionPage, SigningStatus
from .signatures import AbstractSignature, Signature, normalize_email
from .stats import PetitionStats

__all__ = [
    "AbstractSignature",
    "CampaignIndexPage",
    "Official",
    "PetitionMixin",
    "PetitionPage",
    "PetitionStats",
    "Signature",
    "SigningStatus",
    "normalize_email",
]
