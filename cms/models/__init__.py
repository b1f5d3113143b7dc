from .deliveries import Delivery, DeliveryRecipient, OfficialResponse
from .erasure import ErasureLog
from .fraud import FraudRule, Invalidation
from .grants import CampaignGrant, TokenScopes
from .insights import PetitionHourlyStats, PetitionSourceStats
from .officials import Official
from .offline import OfflineSignatureBatch
from .pages import CampaignIndexPage, PetitionMixin, PetitionPage, SigningStatus
from .privacy import PetitionPrivacySettings
from .signatures import AbstractSignature, ConsentWording, Signature, normalize_email
from .stats import Milestone, PetitionCountryCount, PetitionStats, live_counts, live_values, stored_values
from .suppression import Suppression, address_hash
from .webhooks import WebhookAttempt, WebhookEndpoint, WebhookEvent

__all__ = [
    "AbstractSignature",
    "CampaignGrant",
    "CampaignIndexPage",
    "ConsentWording",
    "Delivery",
    "DeliveryRecipient",
    "ErasureLog",
    "FraudRule",
    "Invalidation",
    "Milestone",
    "Official",
    "OfflineSignatureBatch",
    "OfficialResponse",
    "PetitionMixin",
    "PetitionCountryCount",
    "PetitionHourlyStats",
    "PetitionSourceStats",
    "PetitionPage",
    "PetitionPrivacySettings",
    "PetitionStats",
    "Signature",
    "SigningStatus",
    "Suppression",
    "TokenScopes",
    "WebhookAttempt",
    "WebhookEndpoint",
    "WebhookEvent",
    "address_hash",
    "live_counts",
    "live_values",
    "stored_values",
    "normalize_email",
]
