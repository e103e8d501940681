"""The menu's unread count is kept on the user by the notification services, so that every
page shows it without a query of its own; it always equals the unread rows."""

import importlib
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidatures import retention
from cerdd_ami.models import Notification, User
from cerdd_ami.notifications import services
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db

BADGE = (
    'Notifications <span class="badge text-bg-primary">2'
    '<span class="visually-hidden"> non lues</span>'
)


def counters(*users):
    return [User.objects.get(pk=user.pk).notifications_non_lues for user in users]


def unread_rows(*users):
    return [Notification.objects.filter(user=user, read_at__isnull=True).count() for user in users]


def test_notify_counts_one_per_recipient_once():
    anne, bruno = UserFactory(), UserFactory()

    services.notify(recipients=[anne, bruno, anne], titre="Nouveau", url="/a/")
    services.notify(recipients=[anne], titre="Encore", url="/b/")

    assert counters(anne, bruno) == [2, 1] == unread_rows(anne, bruno)


def test_mark_read_lowers_the_counter_by_what_was_read_here_and_on_the_instance():
    anne = UserFactory()
    services.notify(recipients=[anne], titre="Un", url="/a/#message-1")
    services.notify(recipients=[anne], titre="Deux", url="/a/#message-2")
    services.notify(recipients=[anne], titre="Trois", url="/b/")
    anne.refresh_from_db()

    assert services.mark_read(user=anne, url="/a/") == 2
    assert (anne.notifications_non_lues, counters(anne)) == (1, [1])
    assert services.mark_read(user=anne, url="/a/") == 0
    assert counters(anne) == [1]


def test_mark_all_read_keeps_counting_a_notification_created_since_the_page_loaded():
    anne = UserFactory()
    services.notify(recipients=[anne], titre="Un", url="/a/")
    page_user = User.objects.get(pk=anne.pk)  # as the request loaded it
    services.notify(recipients=[anne], titre="Deux", url="/b/")

    assert services.mark_all_read(user=page_user) == 2
    services.notify(recipients=[anne], titre="Trois", url="/c/")

    assert counters(anne) == [1] == unread_rows(anne)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["notify", "read", "read_all", "withdraw"]),
        st.sampled_from([0, 1]),
        st.sampled_from(["/a/", "/b/", "/a/#x"]),
    ),
    max_size=12,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_counter_always_equals_the_unread_rows(operations):
    people = [UserFactory(), UserFactory()]
    for operation, who, url in operations:
        person = User.objects.get(pk=people[who].pk)
        if operation == "notify":
            services.notify(recipients=people[who:], titre="Nouveau", url=url)
        elif operation == "read":
            services.mark_read(user=person, url=url)
        elif operation == "withdraw":
            services.withdraw(template="notification", anchor="x")
        else:
            services.mark_all_read(user=person)
        assert counters(*people) == unread_rows(*people)


def test_migration_starts_each_counter_at_the_unread_rows():
    anne, bruno = UserFactory(), UserFactory()
    services.notify(recipients=[anne, bruno], titre="Un", url="/a/")
    services.notify(recipients=[anne], titre="Deux", url="/b/")
    services.mark_read(user=bruno, url="/a/")
    User.objects.update(notifications_non_lues=0)  # as the new column is at first

    migration = importlib.import_module(
        "cerdd_ami.migrations.0005_user_unread_notifications_counter"
    )
    migration.count_unread(apps, None)

    assert counters(anne, bruno) == [2, 0]


def test_menu_shows_the_count_without_a_query_of_its_own(client, django_assert_num_queries):
    anne = UserFactory()
    services.notify(recipients=[anne], titre="Un", url="/a/")
    services.notify(recipients=[anne], titre="Deux", url="/b/")
    client.force_login(anne)
    client.get("/")  # the session remembers the menu's cycle check

    # Session, user, their dossiers, the open calls: nothing for the badge.
    with django_assert_num_queries(4):
        content = page_text(client.get("/candidature/"))
    assert BADGE in content


def test_purge_deletes_notifications_over_a_year_old_and_lowers_the_counters():
    anne, bruno = UserFactory(), UserFactory()
    start = timezone.now()
    with time_machine.travel(start - timedelta(days=366), tick=False):
        services.notify(recipients=[anne, bruno], titre="Ancien", url="/a/")
        services.notify(recipients=[anne], titre="Ancien lu", url="/b/")
        services.mark_read(user=User.objects.get(pk=anne.pk), url="/b/")
    services.notify(recipients=[anne], titre="Récent", url="/c/")

    with time_machine.travel(start, tick=False):
        counts = retention.purge()

    assert counts[services.PURGED] == 3
    assert sorted(Notification.objects.values_list("user__email", "titre")) == [
        (anne.email, "Récent")
    ]
    assert counters(anne, bruno) == [1, 0] == unread_rows(anne, bruno)


def test_withdraw_deletes_only_what_nobody_read_nor_received_and_lowers_the_counters():
    anne, bruno, chloe = UserFactory(), UserFactory(), UserFactory()
    services.notify(recipients=[anne, bruno, chloe], titre="Masqué", url="/d/1/#message-7")
    services.notify(recipients=[anne], titre="Autre", url="/d/1/#message-70")
    services.notify(recipients=[anne], titre="Autre modèle", url="/e/#message-7", template="x")
    services.mark_read(user=User.objects.get(pk=bruno.pk), url="/d/1/")
    Notification.objects.filter(user=chloe).update(emailed_at=timezone.now())

    assert services.withdraw(template="notification", anchor="message-7") == 1

    assert sorted(Notification.objects.values_list("user__email", "titre")) == sorted(
        [
            (anne.email, "Autre"),
            (anne.email, "Autre modèle"),
            (bruno.email, "Masqué"),
            (chloe.email, "Masqué"),
        ]
    )
    assert counters(anne, bruno, chloe) == [2, 0, 1] == unread_rows(anne, bruno, chloe)
