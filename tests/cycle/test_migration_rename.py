"""Migration cycle 0009 renames ``Question`` to ``QuestionCerdd`` and ``Message`` to
``MessageReseau``: the permissions' codenames follow, both ways, so the role groups keep
their rights on an existing database."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cerdd_ami import roles
from cerdd_ami.models import Notification
from cerdd_ami.permissions import sync_role_permissions
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = "0008_delete_envoi_message_reseau_followers_go_through_notifications"
RENAMED = (
    r"_(question|questioncerdd|message|messagereseau|historicalmessage|historicalmessagereseau)$"
)


def cycle_codenames(permissions):
    return sorted(
        permissions.filter(content_type__app_label="cycle", codename__regex=RENAMED).values_list(
            "content_type__model", "codename"
        )
    )


def every_permission_of(models):
    return [
        (model, f"{action}_{model}")
        for model in models
        for action in ["add", "change", "delete", "view"]
    ]


@pytest.fixture
def back_to_latest():
    yield
    call_command("migrate", "cycle", verbosity=0)


def test_rename_migration_moves_codenames_and_group_rights_both_ways(back_to_latest):
    sync_role_permissions()
    group = Group.objects.get(name=roles.CHARGE_DE_MISSION)

    call_command("migrate", "cycle", BEFORE, verbosity=0)

    assert cycle_codenames(group.permissions) == [
        ("message", "change_message"),
        ("message", "view_message"),
        ("question", "change_question"),
        ("question", "view_question"),
    ]
    assert cycle_codenames(Permission.objects) == every_permission_of(
        ["historicalmessage", "message", "question"]
    )

    call_command("migrate", "cycle", verbosity=0)

    assert cycle_codenames(group.permissions) == [
        ("messagereseau", "change_messagereseau"),
        ("messagereseau", "view_messagereseau"),
        ("questioncerdd", "change_questioncerdd"),
        ("questioncerdd", "view_questioncerdd"),
    ]
    assert cycle_codenames(Permission.objects) == every_permission_of(
        ["historicalmessagereseau", "messagereseau", "questioncerdd"]
    )


def test_rename_migration_moves_codenames_without_the_migrate_signals(back_to_latest):
    # A MigrationExecutor emits neither pre_migrate nor post_migrate: the ContentType rows keep
    # the new names, the codenames follow through the migration's own step.
    sync_role_permissions()
    group = Group.objects.get(name=roles.CHARGE_DE_MISSION)
    executor = MigrationExecutor(connection)

    executor.migrate([("cycle", BEFORE)])

    assert cycle_codenames(group.permissions) == [
        ("messagereseau", "change_message"),
        ("messagereseau", "view_message"),
        ("questioncerdd", "change_question"),
        ("questioncerdd", "view_question"),
    ]

    executor.loader.build_graph()
    executor.migrate([("cycle", "0009_rename_question_message_for_one_name_per_concept")])

    assert cycle_codenames(group.permissions) == [
        ("messagereseau", "change_messagereseau"),
        ("messagereseau", "view_messagereseau"),
        ("questioncerdd", "change_questioncerdd"),
        ("questioncerdd", "view_questioncerdd"),
    ]


def test_rename_migration_moves_staff_notification_links_both_ways(back_to_latest):
    staff = UserFactory()
    urls = [
        "/admin/cycle/questioncerdd/7/repondre/",
        "/admin/cycle/messagereseau/3/change/",
        "/cycle/2/questions/7/",
    ]
    for url in urls:
        Notification.objects.create(user=staff, titre="Question", url=url)

    call_command("migrate", "cycle", BEFORE, verbosity=0)

    assert sorted(Notification.objects.values_list("url", flat=True)) == [
        "/admin/cycle/message/3/change/",
        "/admin/cycle/question/7/repondre/",
        "/cycle/2/questions/7/",
    ]

    call_command("migrate", "cycle", verbosity=0)

    assert sorted(Notification.objects.values_list("url", flat=True)) == sorted(urls)
