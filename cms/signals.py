"""Events of a petition's life, for host projects and for the plugin's own receivers.

Connect to them as to any Django signal::

    from django.dispatch import receiver
    from cms.signals import signature_verified

    @receiver(signature_verified)
    def push_to_crm(sender, signature_id, petition_id, **kwargs):
        push_signer_to_crm.delay(signature_id)  # a task of yours: keep receivers fast

Receivers run in the process that sent the event (a web request or a Celery
worker). Hand slow work to a task.
"""

from django.dispatch import Signal

#: A sign request stored a new pending signature, or re-asked for the email of a
#: pending one. Sent after the row is committed.
#: Arguments: ``sender`` (the signature model), ``signature_id``, ``petition_id``,
#: ``created`` (False when the address had signed before).
signature_signed = Signal()

#: A signer confirmed their address: the signature is verified and will be counted.
#: Sent once per signature, after the verification is committed.
#: Arguments: ``sender`` (the signature model), ``signature_id``, ``petition_id``, ``page``.
signature_verified = Signal()

#: A reconcile found a petition's total past a milestone (the goal, or a multiple of
#: ``milestone_step``). Sent once per milestone, inside the reconcile's transaction and
#: lock, so receivers may write rows that must exist exactly once (the plugin's
#: automatic delivery does); use ``transaction.on_commit`` for anything else.
#: Arguments: ``sender`` (``Milestone``), ``milestone``, ``page``.
milestone_reached = Signal()

#: Every official's copy of a delivery has been handed to the ESP or has failed for
#: good (``delivery.status`` says which). Sent once, after commit.
#: Arguments: ``sender`` (``Delivery``), ``delivery``.
delivery_sent = Signal()
