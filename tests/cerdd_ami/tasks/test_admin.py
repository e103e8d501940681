"""The admin's list of background tasks: in French, for staff only, with « Relancer »."""

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone

from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.models import Tache
from cerdd_ami.permissions import sync_role_permissions
from tests.factories import charge_de_mission, juror
from tests.utils import page_text, table_rows

pytestmark = pytest.mark.django_db
URL = "/admin/cerdd_ami/tache/"


def failed_task(**fields) -> Tache:
    return Tache.objects.create(
        task_path="tests.cerdd_ami.tasks.sample.fail",
        args_kwargs={"args": ["serveur indisponible"], "kwargs": {}},
        backend_name="default",
        run_after=timezone.now(),
        status=TaskResultStatus.FAILED,
        worker_ids=["a", "b", "c"],
        exception_class_path="builtins.RuntimeError",
        traceback="Traceback (most recent call last):\nRuntimeError: serveur indisponible\n",
        finished_at=timezone.now(),
        **fields,
    )


@pytest.fixture
def charge(client):
    sync_role_permissions()
    user = charge_de_mission()
    client.force_login(user)
    return user


def test_task_list_shows_label_state_attempts_and_error_in_french(client, charge):
    task = failed_task()

    rows = table_rows(client.get(URL))

    assert rows == [
        [
            "",
            "Tâche d'essai : échoue toujours",
            "En échec",
            "3",
            format_datetime_fr(task.run_after),
            "—",
            format_datetime_fr(task.finished_at),
            "RuntimeError: serveur indisponible",
        ]
    ]


def test_task_page_shows_the_arguments_and_the_last_error_read_only(client, charge):
    task = failed_task()

    response = client.get(f"{URL}{task.pk}/change/")

    text = page_text(response)
    assert "<pre>{'args': ['serveur indisponible'], 'kwargs': {}}</pre>" in text
    assert (
        "<pre>Traceback (most recent call last): RuntimeError: serveur indisponible </pre>" in text
    )
    assert 'name="_save"' not in text


def test_task_list_costs_the_same_queries_for_one_and_many_tasks(
    client, charge, django_assert_num_queries
):
    failed_task()
    client.get(URL)  # warm caches (content types, session)
    with django_assert_num_queries(8) as one:
        client.get(URL)
    for _ in range(20):
        failed_task()
    with django_assert_num_queries(len(one.captured_queries)):
        client.get(URL)


def test_relaunch_puts_a_failed_task_back_in_the_queue_now(client, charge):
    task = failed_task()
    done = Tache.objects.create(
        task_path="tests.cerdd_ami.tasks.sample.note",
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
        run_after=timezone.now(),
        status=TaskResultStatus.SUCCESSFUL,
    )
    before = timezone.now()

    response = client.post(
        URL, {"action": "relancer", "_selected_action": [task.pk, done.pk]}, follow=True
    )

    task.refresh_from_db()
    done.refresh_from_db()
    assert (task.status, task.finished_at, task.run_after >= before) == (
        TaskResultStatus.READY,
        None,
        True,
    )
    assert done.status == TaskResultStatus.SUCCESSFUL
    assert [str(m) for m in response.context["messages"]] == [
        "1 tâche(s) relancée(s).",
        "1 tâche(s) ignorée(s) : terminée(s) ou en cours.",
    ]


def test_task_list_is_closed_to_jurors_and_anonymous_visitors(client):
    sync_role_permissions()
    task = failed_task()

    assert client.get(URL).status_code == 302
    client.force_login(juror())
    assert client.get(URL).status_code == 403
    assert (
        client.post(URL, {"action": "relancer", "_selected_action": [task.pk]}).status_code == 403
    )
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED


def test_task_filter_names_every_task_of_the_queue_by_its_label(client, charge):
    Tache.objects.create(
        task_path="candidatures.retention.purge_personal_data",
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
        run_after=timezone.now(),
    )

    response = client.get(URL)

    filters = dict(response.context["cl"].filter_specs[1].lookup_choices)
    assert filters["candidatures.retention.purge_personal_data"] == (
        "Purge des données personnelles (hebdomadaire)"
    )
