"""Leads are scoped to campaigns, API tokens to scopes.

An existing install keeps working as it did: every group that held a lead's permission
(``view_signature`` or ``deliver_petition``) is granted every campaign index that exists now,
and every existing API token keeps every scope. Campaigns created from here on are granted
explicitly (Settings → Campaign grants).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

LEAD_CODENAMES = ("view_signature", "deliver_petition")


def grant_existing_campaigns(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    CampaignIndexPage = apps.get_model("petitions_cms", "CampaignIndexPage")
    CampaignGrant = apps.get_model("petitions_cms", "CampaignGrant")
    groups = Group.objects.filter(
        permissions__content_type__app_label="petitions_cms", permissions__codename__in=LEAD_CODENAMES
    ).distinct()
    campaigns = list(CampaignIndexPage.objects.values_list("pk", flat=True))
    CampaignGrant.objects.bulk_create(
        [CampaignGrant(group=group, campaign_id=pk) for group in groups for pk in campaigns], ignore_conflicts=True
    )


def keep_existing_tokens_scopes(apps, schema_editor):
    APIToken = apps.get_model("wagtailcore", "APIToken")
    TokenScopes = apps.get_model("petitions_cms", "TokenScopes")
    TokenScopes.objects.bulk_create(
        [
            TokenScopes(token_id=pk, read_signatures=True, export=True, deliver=True, record=True)
            for pk in APIToken.objects.values_list("pk", flat=True)
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("petitions_cms", "0009_signature_email_status_capped"),
        ("wagtailcore", "0098_apitoken"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        migrations.swappable_dependency(settings.WAGTAIL_PAGE_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TokenScopes",
            fields=[
                (
                    "token",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="petition_scopes",
                        serialize=False,
                        to="wagtailcore.apitoken",
                    ),
                ),
                (
                    "read_signatures",
                    models.BooleanField(
                        default=True, help_text="Read verified signatures a page at a time (JSON and OSDI)."
                    ),
                ),
                (
                    "export",
                    models.BooleanField(default=False, help_text="Download every verified signature as one CSV file."),
                ),
                (
                    "deliver",
                    models.BooleanField(default=False, help_text="Follow deliveries and each official's send status."),
                ),
                (
                    "record",
                    models.BooleanField(
                        default=False,
                        help_text="Record signatures through the OSDI helper without the per-address rate limit (CRM imports).",
                    ),
                ),
            ],
            options={
                "verbose_name": "API token scopes",
                "verbose_name_plural": "API token scopes",
            },
        ),
        migrations.CreateModel(
            name="CampaignGrant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "campaign",
                    models.ForeignKey(
                        help_text="Usually a campaign index: its petitions (and any page under it) are granted.",
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.WAGTAIL_PAGE_MODEL,
                    ),
                ),
                (
                    "group",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="campaign_grants",
                        to="auth.group",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="campaign_grants",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "campaign grant",
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("group__isnull", False), ("user__isnull", True)),
                            models.Q(("group__isnull", True), ("user__isnull", False)),
                            _connector="OR",
                        ),
                        name="campaign_grant_group_or_user",
                    ),
                    models.UniqueConstraint(fields=("campaign", "group"), name="unique_campaign_grant_group"),
                    models.UniqueConstraint(fields=("campaign", "user"), name="unique_campaign_grant_user"),
                ],
            },
        ),
        migrations.RunPython(grant_existing_campaigns, migrations.RunPython.noop),
        migrations.RunPython(keep_existing_tokens_scopes, migrations.RunPython.noop),
    ]
