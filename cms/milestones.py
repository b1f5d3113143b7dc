"""Milestones: the goal, and every ``milestone_step`` signatures, recorded once.

Called by the reconcile task inside its transaction and lock, so however
many verifications cross a threshold at once and however many workers run,
each threshold is recorded once (a unique constraint backs this up). Each
new milestone sends ``milestone_reached``; the plugin's own receivers
(``cms.receivers``) email the leads and make the automatic delivery.
"""

import logging

from anymail.message import AnymailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext
from wagtail.models import Page

from .conf import absolute_url
from .models import Delivery, Milestone, PetitionStats, Suppression, address_hash
from .permissions import can_deliver
from .signals import milestone_reached

logger = logging.getLogger("petitions")

MAX_STEPS_PER_RUN = 100  # a tiny step on a huge jump records the latest ones only


def next_goal(page, total):
    """The goal after ``total``: the next step above it, or the goal doubled until above it."""
    goal = max(page.goal, 1)
    if page.milestone_step:
        return (total // page.milestone_step + 1) * page.milestone_step
    while goal <= total:
        goal *= 2
    return goal


def thresholds_crossed(page, goal, before, after):
    """[(threshold, kind)] passed on the way from ``before`` to ``after`` signatures."""
    crossed = {}
    if page.milestone_step:
        step = page.milestone_step
        first = max(before // step + 1, after // step - MAX_STEPS_PER_RUN + 1)
        for k in range(first, after // step + 1):
            crossed[k * step] = Milestone.Kind.STEP
    if goal and before < goal <= after:
        crossed[goal] = Milestone.Kind.GOAL
    return sorted(crossed.items())


def record(totals, before, now):
    """Record milestones crossed by this reconcile; return {petition_id: raised goal}.

    ``totals`` and ``before`` map petition ids to their counts after and
    before this run.
    """
    moved = [pk for pk, total in totals.items() if total > before.get(pk, 0)]
    stats = {row.petition_id: row for row in PetitionStats.objects.filter(petition_id__in=totals)}
    goals = {pk: row.raised_goal for pk, row in stats.items() if row.raised_goal}
    if not moved:
        return goals
    pages = {page.pk: page for page in Page.objects.filter(pk__in=moved).specific()}
    for petition_id in moved:
        page = pages.get(petition_id)
        if page is None or not hasattr(page, "goal"):
            continue
        goal = goals.get(petition_id) or page.goal
        total = totals[petition_id]
        crossed = thresholds_crossed(page, goal, before.get(petition_id, 0), total)
        if not crossed:
            continue
        known = set(
            Milestone.objects.filter(petition_id=petition_id, threshold__in=[t for t, _ in crossed]).values_list(
                "threshold", flat=True
            )
        )
        created = Milestone.objects.bulk_create(
            [
                Milestone(petition_id=petition_id, threshold=t, kind=kind, reached_at=now, total_when_recorded=total)
                for t, kind in crossed
                if t not in known
            ]
        )
        for milestone in created:
            logger.info("Petition %s reached %s signatures (%s)", petition_id, milestone.threshold, milestone.kind)
            milestone_reached.send(Milestone, milestone=milestone, page=page)
        if page.raise_goal_automatically and goal <= total:
            goals[petition_id] = next_goal(page, total)
            PetitionStats.objects.filter(petition_id=petition_id).update(raised_goal=goals[petition_id])
    return goals


def waiting_url(milestone):
    """The admin address of the milestone's automatic delivery if it waits for a lead to send it, else None.

    It waits when no lead decided the page's delivery settings (``cms.deliveries.sends_itself``).
    """
    delivery = Delivery.objects.filter(milestone=milestone).select_related("created_by").first()
    if delivery is None or can_deliver(delivery.created_by, milestone.petition):
        return None
    return absolute_url(reverse("petitions_deliveries:detail", args=[delivery.pk]), milestone.petition)


def notify(milestone_id) -> bool:
    """Email the page's campaign leads about one milestone, once."""
    with transaction.atomic():
        milestone = Milestone.objects.select_for_update().filter(pk=milestone_id, notified_at__isnull=True).first()
        if milestone is None:
            return False
        page = milestone.petition.specific
        recipients = page.get_milestone_notify_emails()
        suppressed = Suppression.hashes_among(recipients, Suppression.UNDELIVERABLE)
        if suppressed:
            logger.warning(
                "Milestone email of petition %s not sent to %d suppressed addresses", page.pk, len(suppressed)
            )
            recipients = [email for email in recipients if address_hash(email) not in suppressed]
        if recipients:
            identity = page.get_identity()
            context = {
                "page": page,
                "milestone": milestone,
                "url": page.full_url,
                "waiting_url": waiting_url(milestone),
            }
            message = AnymailMessage(
                subject=gettext("“%(petition)s” reached %(count)s signatures")
                % {"petition": page.title, "count": number_format(milestone.threshold, force_grouping=True)},
                body=render_to_string("petitions/email/milestone.txt", context),
                from_email=identity.from_header(),
                reply_to=identity.reply_to_list(),
                to=recipients,
                tags=["petition-milestone"],
                metadata={"petition_id": str(page.pk), "milestone": str(milestone.threshold)},
            )
            message.send()
        milestone.notified_at = timezone.now()
        milestone.save(update_fields=["notified_at"])
    return bool(recipients)
