"""The "Campaign leads" group: they deliver petitions and see signatures, but edit no pages."""

from django.db import migrations

LEAD_PERMISSIONS = [
    ("petitions_cms", "delivery", "deliver_petition"),
    ("petitions_cms", "delivery", "view_delivery"),
    ("petitions_cms", "delivery", "add_delivery"),
    ("petitions_cms", "signature", "view_signature"),
    ("petitions_cms", "signature", "change_signature"),
    ("petitions_cms", "official", "view_official"),
    ("petitions_cms", "officialresponse", "add_officialresponse"),
    ("petitions_cms", "officialresponse", "change_officialresponse"),
    ("petitions_cms", "officialresponse", "view_officialresponse"),
    ("wagtailadmin", "admin", "access_admin"),
]


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions of models created in this same migrate run do not exist yet.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Campaign leads")
    for app_label, _model, codename in LEAD_PERMISSIONS:
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            group.permissions.add(permission)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Campaign leads").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("petitions_cms", "0003_deliveries_and_responses"),
        ("wagtailadmin", "0001_create_admin_access_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
