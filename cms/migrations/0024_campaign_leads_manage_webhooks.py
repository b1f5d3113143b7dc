from django.db import migrations

#: Campaign leads register webhook endpoints for their own campaigns (the snippet scopes them).
LEAD_PERMISSIONS = [
    ("webhookendpoint", "add_webhookendpoint"),
    ("webhookendpoint", "change_webhookendpoint"),
    ("webhookendpoint", "delete_webhookendpoint"),
    ("webhookendpoint", "view_webhookendpoint"),
]


def grant_leads(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # The permissions of models the previous migration created may not exist yet.
    app_config = apps.get_app_config("petitions_cms")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    group = apps.get_model("auth", "Group").objects.filter(name="Campaign leads").first()
    if group is None:
        return
    Permission = apps.get_model("auth", "Permission")
    for model, codename in LEAD_PERMISSIONS:
        permission = Permission.objects.filter(
            content_type__app_label="petitions_cms", content_type__model=model, codename=codename
        ).first()
        if permission is not None:
            group.permissions.add(permission)


def revoke_leads(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    codenames = [codename for _, codename in LEAD_PERMISSIONS]
    for group in apps.get_model("auth", "Group").objects.filter(name="Campaign leads"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="petitions_cms", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("petitions_cms", "0023_webhooks"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant_leads, revoke_leads)]
