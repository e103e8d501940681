"""The worker against PostgreSQL: tasks written with the change, retries with back-off, the
task of a killed worker run again, periodic tasks without cron."""

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection, transaction
from django.tasks import TaskResultStatus
from django.utils import timezone

from cerdd_ami.models import Tache
from cerdd_ami.tasks import enqueue
from cerdd_ami.tasks.worker import recover_dead_workers_tasks, schedule_periodic_tasks
from tests.cerdd_ami.tasks import sample
from tests.conftest import run_worker

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db


def lines(path) -> list[str]:
    return Path(path).read_text().splitlines() if Path(path).exists() else []


def test_enqueue_writes_the_task_with_the_change_and_nothing_after_a_rollback(
    database_queue, tmp_path
):
    path = str(tmp_path / "effets")

    def change_that_fails():
        with transaction.atomic():
            enqueue(sample.note, path, "annulée")
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        change_that_fails()
    with transaction.atomic():
        enqueue(sample.note, path, "gardée")

    assert [(t.task_path, t.args_kwargs, t.status) for t in Tache.objects.all()] == [
        (
            "tests.cerdd_ami.tasks.sample.note",
            {"args": [path, "gardée"], "kwargs": {}},
            TaskResultStatus.READY,
        )
    ]
    assert lines(path) == []  # nothing runs before a worker takes it

    run_worker()

    assert lines(path) == ["gardée"]
    task = Tache.objects.get()
    assert (task.status, task.return_value, task.attempts) == (
        TaskResultStatus.SUCCESSFUL,
        "gardée",
        1,
    )


def test_enqueue_without_the_database_queue_runs_the_task_on_commit(
    tmp_path, django_capture_on_commit_callbacks
):
    path = str(tmp_path / "effets")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        enqueue(sample.note, path, "après le commit")
        assert lines(path) == []

    assert len(callbacks) == 1
    assert lines(path) == ["après le commit"]


def test_failed_task_is_retried_with_back_off_then_failed_for_good(database_queue, settings):
    settings.TASKS_RETRY_DELAYS = [30, 120]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        enqueue(sample.fail, "serveur indisponible")
        run_worker()
        task = Tache.objects.get()
        assert (task.status, task.attempts, task.state_label) == (
            TaskResultStatus.READY,
            1,
            "Nouvel essai prévu",
        )
        assert task.run_after == start + datetime.timedelta(seconds=30)
        assert task.error_summary == "RuntimeError: serveur indisponible"

        clock.shift(29)
        run_worker()  # not due yet
        assert Tache.objects.get().attempts == 1

        clock.shift(1)
        run_worker()
        task = Tache.objects.get()
        assert (task.status, task.attempts) == (TaskResultStatus.READY, 2)
        assert task.run_after == start + datetime.timedelta(seconds=30 + 120)

        clock.shift(120)
        run_worker()
        task = Tache.objects.get()
        assert (task.status, task.attempts, task.state_label, task.error_summary) == (
            TaskResultStatus.FAILED,
            3,
            "En échec",
            "RuntimeError: serveur indisponible",
        )


def test_periodic_task_enqueued_once_then_one_period_after_its_last_run(
    database_queue, settings, tmp_path
):
    settings.PERIODIC_TASKS = {"candidatures.retention.purge_personal_data": 7 * 24 * 3600}
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        assert schedule_periodic_tasks() == ["candidatures.retention.purge_personal_data"]
        assert schedule_periodic_tasks() == []  # a second worker starting adds nothing
        run_worker()  # runs it, then enqueues the next one
        clock.shift(60)
        run_worker()  # the next one is not due

    assert [
        (t.status, t.return_value, t.run_after - start) for t in Tache.objects.order_by("run_after")
    ] == [
        (
            TaskResultStatus.SUCCESSFUL,
            {
                "requests": 0,
                "drafts": 0,
                "Fils de discussion du réseau et leurs messages (cycle fini depuis plus de "
                "12 mois)": 0,
                "Accords pour l'annuaire du réseau (cycle fini depuis plus de 12 mois)": 0,
                "Échanges « Questions au Cerdd » et leurs pièces jointes (cycle fini depuis plus "
                "de 12 mois)": 0,
                "Avis de nouveauté (notifications) créés il y a plus de 12 mois": 0,
                "accounts": 0,
            },
            datetime.timedelta(0),
        ),
        (TaskResultStatus.READY, None, datetime.timedelta(days=7)),
    ]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_task_of_a_killed_worker_runs_again_and_finishes_once(database_queue, tmp_path):
    path = str(tmp_path / "effets")
    enqueue(sample.start_wait_finish, path)
    # The worker of another machine: its own process, its own settings (the periodic tasks
    # included, hence the lookups by task below).
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{quote(db['HOST'], safe='')}/{db['NAME']}",
        "TASKS_BACKEND": "database",
        "PYTHONPATH": str(ROOT),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "worker",
            "--no-startup-delay",
            "--no-reload",
            "--interval",
            "0.1",
            "--worker-id",
            "machine-a",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while lines(path) != ["début"]:
            assert time.monotonic() < deadline, "le worker n'a pas commencé la tâche"
            time.sleep(0.05)
        assert recover_dead_workers_tasks() == []  # its worker is alive: left alone
        assert (
            Tache.objects.get(task_path="tests.cerdd_ami.tasks.sample.start_wait_finish").status
            == TaskResultStatus.RUNNING
        )

        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        worker.kill()
    task = Tache.objects.get(task_path="tests.cerdd_ami.tasks.sample.start_wait_finish")
    assert task.status == TaskResultStatus.RUNNING  # as the dead worker left it

    deadline = time.monotonic() + 10
    while not recover_dead_workers_tasks():  # PostgreSQL drops the lock with the connection
        assert time.monotonic() < deadline, "la tâche du worker tué n'a pas été reprise"
        time.sleep(0.1)
    task = Tache.objects.get(task_path="tests.cerdd_ami.tasks.sample.start_wait_finish")
    assert (task.status, task.attempts, task.error_summary) == (
        TaskResultStatus.READY,
        1,
        "Le worker machine-a s'est arrêté pendant la tâche.",
    )

    Path(path + ".go").touch()
    run_worker(worker_id="machine-b")

    task = Tache.objects.get(task_path="tests.cerdd_ami.tasks.sample.start_wait_finish")
    assert (task.status, task.worker_ids, task.return_value) == (
        TaskResultStatus.SUCCESSFUL,
        ["machine-a", "machine-b"],
        "fin",
    )
    assert lines(path) == ["début", "début", "fin"]


def test_clear_expired_sessions_task_deletes_only_expired_sessions(database_queue, settings):
    from django.contrib.sessions.models import Session

    from cerdd_ami.tasks.maintenance import clear_expired_sessions

    now = timezone.now()
    Session.objects.create(
        session_key="a" * 32, session_data="", expire_date=now - datetime.timedelta(days=1)
    )
    Session.objects.create(
        session_key="b" * 32, session_data="", expire_date=now + datetime.timedelta(days=1)
    )
    clear_expired_sessions.enqueue()
    run_worker()

    assert list(Session.objects.values_list("session_key", flat=True)) == ["b" * 32]


def test_worker_waits_for_the_database_then_runs_the_task(database_queue, tmp_path, monkeypatch):
    """A PostgreSQL restart made django-tasks-db's loop raise and the worker exit (bench_faults:
    110 receipts never sent). The error is injected at the library's queryset."""
    from django.db import OperationalError
    from django_tasks_db.models import DBTaskResultQuerySet

    path = str(tmp_path / "effets")
    enqueue(sample.note, path, "après la panne")
    ready = DBTaskResultQuerySet.ready
    outages = []

    def ready_after_an_outage(self):
        if not outages:
            outages.append("panne")
            raise OperationalError('connection to server on socket "…" failed')
        return ready(self)

    monkeypatch.setattr(DBTaskResultQuerySet, "ready", ready_after_an_outage)
    monkeypatch.setattr("cerdd_ami.tasks.worker.time.sleep", lambda seconds: None)
    monkeypatch.setattr("cerdd_ami.tasks.worker.connection.close", lambda: None)

    run_worker()

    assert outages == ["panne"]
    assert lines(path) == ["après la panne"]
    assert Tache.objects.get().status == TaskResultStatus.SUCCESSFUL


def test_task_left_running_by_this_worker_goes_back_to_the_queue_when_it_restarts(
    database_queue, tmp_path
):
    path = str(tmp_path / "effets")
    enqueue(sample.note, path, "reprise")
    task = Tache.objects.get()
    task.claim("machine-a")  # the database went away while it ran

    run_worker(worker_id="machine-a")

    task.refresh_from_db()
    assert (task.status, task.worker_ids) == (
        TaskResultStatus.SUCCESSFUL,
        ["machine-a", "machine-a"],
    )
    assert lines(path) == ["reprise"]
