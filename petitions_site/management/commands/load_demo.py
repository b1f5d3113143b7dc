from django.core.management.base import BaseCommand

from petitions_site import demo_content


class Command(BaseCommand):
    help = "Load the demo petitions (once) and print the admin login."

    def handle(self, *args, **options):
        login = demo_content.load()
        self.stdout.write(self.style.SUCCESS("Demo content is loaded."))
        self.stdout.write(f"  Site:   http://127.0.0.1:8000/{demo_content.REFERENCE_SLUG}/")
        self.stdout.write(
            f"          http://127.0.0.1:8000/ar/{demo_content.REFERENCE_SLUG}/ (Arabic), "
            f"http://127.0.0.1:8000/fr/{demo_content.REFERENCE_SLUG}/ (French): one count, one feed"
        )
        self.stdout.write(f"  Admin:  {login['url']}  username: {login['username']}  password: {login['password']}")
        self.stdout.write(
            f"  Lead:   {login['url']}  username: {login['lead_username']}  password: {login['lead_password']}"
            "  (delivers petitions; cannot edit pages)"
        )
        self.stdout.write(
            f"  Local lead: username: {login['local_lead_username']}  password: {login['lead_password']}"
            "  (granted only the Riverside campaign)"
        )
        self.stdout.write("  Mail:   verification emails are written to var/mail/*.eml")
