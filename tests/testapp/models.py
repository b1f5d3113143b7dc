from django.db import models

from cms.models import AbstractSignature


class MemberSignature(AbstractSignature):
    """A signature model with one field more, named in PETITIONS["SIGNATURE_MODEL"] by the tests that use it."""

    membership_number = models.CharField(max_length=20, blank=True)

    SIGNER_FIELDS = AbstractSignature.SIGNER_FIELDS + ("membership_number",)
    PERSONAL_FIELDS = AbstractSignature.PERSONAL_FIELDS + ("membership_number",)

    class Meta(AbstractSignature.Meta):
        pass
