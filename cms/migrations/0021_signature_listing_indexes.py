"""Indexes for the admin's signatures listing (issue 14): its first page at a million rows.

Newest first overall, by petition and by status: the first page is an index scan that stops after
a page of rows. The name search compares prefixes of ``UPPER(first_name)`` and ``UPPER(last_name)``
(Django's ``istartswith``); on PostgreSQL those get ``text_pattern_ops`` expression indexes, which
a model's ``Meta`` cannot declare portably, so they are created here on PostgreSQL only.
"""

from django.db import migrations, models

NAME_INDEXES = {
    "petitions_cms_sig_first_prefix": "first_name",
    "petitions_cms_sig_last_prefix": "last_name",
}


def create_name_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("petitions_cms", "Signature")._meta.db_table
    for name, column in NAME_INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" (UPPER("{column}"::text) text_pattern_ops)'
        )


def drop_name_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in NAME_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("petitions_cms", "0020_petition_share_image"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="signature",
            index=models.Index(fields=["-created_at", "-id"], name="petitions_cms_sig_newest"),
        ),
        migrations.AddIndex(
            model_name="signature",
            index=models.Index(fields=["petition", "-created_at", "-id"], name="petitions_cms_sig_pet_newest"),
        ),
        migrations.AddIndex(
            model_name="signature",
            index=models.Index(fields=["status", "-created_at", "-id"], name="petitions_cms_sig_stat_newest"),
        ),
        migrations.RunPython(create_name_indexes, drop_name_indexes, elidable=False),
    ]
