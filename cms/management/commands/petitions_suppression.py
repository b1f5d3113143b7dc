"""Look up or lift the suppression of an address: ``manage.py petitions_suppression show|lift ADDRESS``.

The list keeps a hash of the canonical address, not the address, so it is searched by address
here rather than browsed. Lift a suppression only once the reason has gone (the mailbox exists
again, the official's address was corrected) and after removing it from the ESP's own list too:
the ESP keeps refusing an address it suppressed itself.
"""

from django.core.management.base import BaseCommand

from cms.models import Suppression, address_hash


class Command(BaseCommand):
    help = "Show or lift the suppression of an email address (bounces, refusals, complaints, unsubscribes)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["show", "lift"])
        parser.add_argument("address")
        parser.add_argument(
            "--reason",
            choices=Suppression.Reason.values,
            help="Lift only this reason (default: every reason the address is suppressed for).",
        )

    def handle(self, action, address, reason=None, **options):
        rows = Suppression.objects.filter(address_hash=address_hash(address))
        if reason:
            rows = rows.filter(reason=reason)
        if action == "show":
            found = list(rows.order_by("created_at"))
            for row in found:
                self.stdout.write(f"{row.reason}\t{row.source or 'the signer'}\t{row.created_at:%Y-%m-%d %H:%M}")
            if not found:
                self.stdout.write("Not suppressed.")
            return
        lifted, _ = rows.delete()
        self.stdout.write(f"Lifted {lifted} suppression(s)." if lifted else "Not suppressed: nothing to lift.")
