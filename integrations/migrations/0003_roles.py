"""The two roles, as groups: Admins configure integrations, Analysts browse the catalog."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADMINS = "Admins"
ANALYSTS = "Analysts"

ROLE_PERMISSIONS = {
    ADMINS: [
        ("integrations", "manage_integrations"),
        ("integrations", "view_integration"),
        ("integrations", "change_integration"),
        ("integrations", "delete_integration"),
        ("integrations", "view_syncrun"),
        *[("catalog", f"{verb}_{model}") for verb in ("view", "change")
          for model in ("database", "schema", "table", "column")],
    ],
    ANALYSTS: [
        ("integrations", "view_integration"),
        ("integrations", "view_syncrun"),
        *[("catalog", f"{verb}_{model}") for verb in ("view", "change")
          for model in ("database", "schema", "table", "column")],
    ],
}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations; the groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        for app_label, codename in wanted:
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLE_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0002_manage_permission"),
        ("catalog", "0002_column_data_type_text"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
