"""Set what a Wagtail API token may do on the campaign leads' endpoints.

Wagtail's ``manage.py api_tokens create`` makes a token that may only read signatures; give it
more here (the admin's *Settings → Lead API tokens* does both at once)::

    TOKEN=$(python manage.py api_tokens create --user lead --name "CRM sync")
    python manage.py api_tokens list --user lead          # its id
    python manage.py token_scopes --id 7 --scope read_signatures --scope export
"""

from django.core.management.base import BaseCommand, CommandError
from wagtail.models import APIToken

from cms.models import TokenScopes


class Command(BaseCommand):
    help = "Set a Wagtail API token's scopes on the campaign leads' endpoints (replacing the ones it had)."

    def add_arguments(self, parser):
        parser.add_argument("--id", type=int, required=True, help="The token's id (manage.py api_tokens list)")
        parser.add_argument(
            "--scope",
            action="append",
            choices=TokenScopes.NAMES,
            required=True,
            dest="scopes",
            help="A scope to grant; repeat for more. Scopes not named are taken away.",
        )

    def handle(self, *args, id, scopes, **options):
        api_token = APIToken.objects.filter(pk=id, revoked_at__isnull=True).first()
        if api_token is None:
            raise CommandError(f"No active token with id {id}; it may not exist or may be revoked.")
        TokenScopes.objects.update_or_create(
            token=api_token, defaults={name: name in scopes for name in TokenScopes.NAMES}
        )
        self.stdout.write(f"{api_token.prefix}… ({api_token.name}): {', '.join(sorted(set(scopes)))}")
