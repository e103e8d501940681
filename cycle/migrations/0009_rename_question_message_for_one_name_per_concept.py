"""One name per concept (docs/glossaire.md): the cycle's ``Question`` becomes ``QuestionCerdd``
and its ``Message`` becomes ``MessageReseau`` (with its simple_history model), so that neither
shares a name with the questionnaire's ``Question`` or the dossier thread's ``Message``.

Tables are renamed by ``RenameModel``; ``migrate`` renames the ContentType rows (a
``RenameContentType`` after each ``RenameModel``, pre_migrate) and, since Django 6.1, the
permissions (``rename_permissions_after_model_rename``, post_migrate). The step below renames
the permissions' codenames (``view_question`` -> ``view_questioncerdd``…) inside the migration
itself, so the role groups and the people who held them keep their rights also when the
migration runs without those signals (a MigrationExecutor, as in the migration tests), and a
leftover row under the other name is merged instead of stopping ``migrate`` on a conflict.
The permissions' names (« Can view question au Cerdd »…) come from the unchanged verbose
names and stay as they are.
"""

from django.conf import settings
from django.db import migrations

# Frozen here rather than computed from the models: a migration must not change with the code.
RENAMED_MODELS = [
    ("historicalmessage", "historicalmessagereseau"),
    ("message", "messagereseau"),
    ("question", "questioncerdd"),
]
ACTIONS = ["add", "change", "delete", "view"]


def _rename_codenames(apps, *, forwards):
    Permission = apps.get_model("auth", "Permission")
    for old, new in RENAMED_MODELS:
        source, target = (old, new) if forwards else (new, old)
        # The ContentType row is renamed right after each RenameModel and reverted right
        # before it: whichever way this runs, it may carry either name.
        permissions = Permission.objects.filter(
            content_type__app_label="cycle", content_type__model__in=[old, new]
        )
        for action in ACTIONS:
            current = permissions.filter(codename=f"{action}_{source}").first()
            if current is None:
                continue
            existing = permissions.filter(codename=f"{action}_{target}").first()
            if existing is None:
                current.codename = f"{action}_{target}"
                current.save(update_fields=["codename"])
            else:
                # Both exist (the other name was created by a post_migrate in between):
                # keep one row, holding every group and person that had either.
                existing.group_set.add(*current.group_set.all())
                existing.user_set.add(*current.user_set.all())
                current.delete()


def rename_codenames(apps, schema_editor):
    _rename_codenames(apps, forwards=True)


def restore_codenames(apps, schema_editor):
    _rename_codenames(apps, forwards=False)


# Staff notifications link to the admin pages of the renamed models (« Questions au Cerdd »
# to answer): their stored addresses follow the new admin URLs.
ADMIN_PATHS = [
    ("/admin/cycle/question/", "/admin/cycle/questioncerdd/"),
    ("/admin/cycle/message/", "/admin/cycle/messagereseau/"),
]


def _move_notification_urls(apps, *, forwards):
    from django.db.models import Value
    from django.db.models.functions import Concat, Substr

    Notification = apps.get_model("cerdd_ami", "Notification")
    for old, new in ADMIN_PATHS:
        source, target = (old, new) if forwards else (new, old)
        Notification.objects.filter(url__startswith=source).update(
            url=Concat(Value(target), Substr("url", len(source) + 1))
        )


def move_notification_urls(apps, schema_editor):
    _move_notification_urls(apps, forwards=True)


def restore_notification_urls(apps, schema_editor):
    _move_notification_urls(apps, forwards=False)


class Migration(migrations.Migration):
    dependencies = [
        ("cycle", "0008_delete_envoi_message_reseau_followers_go_through_notifications"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("cerdd_ami", "0005_user_unread_notifications_counter"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameModel(old_name="HistoricalMessage", new_name="HistoricalMessageReseau"),
        migrations.RenameModel(old_name="Message", new_name="MessageReseau"),
        migrations.RenameModel(old_name="Question", new_name="QuestionCerdd"),
        migrations.RunPython(rename_codenames, restore_codenames),
        migrations.RunPython(move_notification_urls, restore_notification_urls),
    ]
