"""The receipt off the request path, against the PostgreSQL queue and the real worker: the
deposit answers before the receipt exists, the worker files and mails it once, retries it after
a failure, and the periodic sweep issues a receipt whose task never ran."""

import datetime

import pytest
import time_machine
from django.tasks import TaskResultStatus
from django.utils import timezone

from candidatures.dossiers import submission
from candidatures.models import Depot
from cerdd_ami.models import Tache
from tests.candidatures.factories import AppelFactory, complete_candidature
from tests.conftest import run_worker
from tests.factories import UserFactory
from tests.utils import break_weasyprint, page_text

pytestmark = pytest.mark.django_db

TASK = "candidatures.dossiers.submission.issue_receipt_task"
SWEEP = "candidatures.dossiers.submission.issue_missing_receipts_task"
IN_PREPARATION = "Accusé de réception en préparation</strong>"


@pytest.fixture
def applicant():
    return UserFactory(email="julien.martin@arras.exemple.test")


@pytest.fixture
def dossier(applicant):
    return complete_candidature(appel=AppelFactory(), createur=applicant)


def tasks():
    return [
        (task.task_path, task.args_kwargs, task.status, task.attempts)
        for task in Tache.objects.order_by("enqueued_at")
    ]


def receipt_subjects(mailoutbox):
    return [(message.to, message.subject) for message in mailoutbox]


def test_deposit_answers_before_the_receipt_then_the_worker_files_and_mails_it_once(
    database_queue, client, applicant, dossier, mailoutbox
):
    client.force_login(applicant)

    response = client.post(f"/candidature/{dossier.pk}/deposer/", follow=True)

    depot = Depot.objects.get(candidature=dossier)
    dossier.refresh_from_db()
    assert (depot.recu.name, depot.recu_sha256, depot.recu_envoye_at) == ("", "", None)
    assert mailoutbox == []
    content = page_text(response)
    assert (
        f"Votre candidature est déposée sous le numéro {dossier.numero}. L'accusé de réception "
        "est en préparation : il sera envoyé aux référent·es par e-mail." in content
    )
    assert IN_PREPARATION in content
    assert f'href="/candidature/{dossier.pk}/recu/1/"' not in content
    assert tasks() == [
        (TASK, {"args": [], "kwargs": {"depot_id": depot.pk}}, TaskResultStatus.READY, 0)
    ]

    run_worker()

    depot.refresh_from_db()
    assert depot.recu.name.startswith(f"recus/{dossier.appel.slug}/{dossier.numero}-v1-")
    assert depot.recu_envoye_at is not None
    assert tasks() == [
        (TASK, {"args": [], "kwargs": {"depot_id": depot.pk}}, TaskResultStatus.SUCCESSFUL, 1)
    ]
    assert receipt_subjects(mailoutbox) == [
        (
            dossier.referent_emails(),
            f"Accusé de réception — {dossier.numero} — {dossier.collectivite.nom}",
        )
    ]
    with depot.recu.open("rb") as handle:
        assert [(a.filename, a.content) for a in mailoutbox[0].attachments] == [
            (f"accuse-de-reception-{dossier.numero}-v1.pdf", handle.read())
        ]
    page = page_text(client.get(f"/candidature/{dossier.pk}/"))
    assert IN_PREPARATION not in page
    assert f'href="/candidature/{dossier.pk}/recu/1/"' in page


def test_receipt_task_run_twice_files_and_mails_once(database_queue, dossier, mailoutbox):
    depot = submission.submit_candidature(candidature=dossier, user=None)
    run_worker()
    depot.refresh_from_db()
    filed, sent_at = depot.recu.name, depot.recu_envoye_at

    # A second run of the same task (a retry after its worker died as it finished).
    submission.issue_receipt_task.enqueue(depot_id=depot.pk)
    run_worker()

    depot.refresh_from_db()
    assert (depot.recu.name, depot.recu_envoye_at) == (filed, sent_at)
    assert len(mailoutbox) == 1
    assert [status for _path, _args, status, _attempts in tasks()] == [
        TaskResultStatus.SUCCESSFUL,
        TaskResultStatus.SUCCESSFUL,
    ]


def test_receipt_task_failing_in_weasyprint_is_retried_with_back_off_then_mails_once(
    database_queue, dossier, mailoutbox, monkeypatch, settings
):
    settings.TASKS_RETRY_DELAYS = [30, 120]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        depot = submission.submit_candidature(candidature=dossier, user=None)
        break_weasyprint(monkeypatch)

        run_worker()

        task = Tache.objects.get()
        assert (task.status, task.attempts, task.state_label, task.error_summary) == (
            TaskResultStatus.READY,
            1,
            "Nouvel essai prévu",
            "RuntimeError: WeasyPrint indisponible",
        )
        assert task.run_after == start + datetime.timedelta(seconds=30)
        depot.refresh_from_db()
        assert (depot.recu.name, mailoutbox) == ("", [])

        monkeypatch.undo()  # WeasyPrint works again
        clock.shift(29)
        run_worker()  # the retry is not due yet
        assert (Tache.objects.get().attempts, mailoutbox) == (1, [])

        clock.shift(1)
        run_worker()
        run_worker()  # nothing left to do

    task = Tache.objects.get()
    assert (task.status, task.attempts) == (TaskResultStatus.SUCCESSFUL, 2)
    depot.refresh_from_db()
    assert depot.recu.name != ""
    assert depot.recu_envoye_at == start + datetime.timedelta(seconds=30)
    assert receipt_subjects(mailoutbox) == [
        (
            dossier.referent_emails(),
            f"Accusé de réception — {dossier.numero} — {dossier.collectivite.nom}",
        )
    ]


def test_periodic_sweep_issues_a_receipt_whose_task_never_ran(
    database_queue, dossier, mailoutbox, settings
):
    settings.PERIODIC_TASKS = {SWEEP: 600}
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        depot = submission.submit_candidature(candidature=dossier, user=None)
        Tache.objects.all().delete()  # as for a deposit recorded before the worker existed

        run_worker()  # the sweep runs at once, and leaves the fresh deposit to its own task
        depot.refresh_from_db()
        assert (depot.recu.name, mailoutbox) == ("", [])

        clock.shift(600)
        run_worker()  # ten minutes later: past the grace, the sweep issues it
        clock.shift(600)
        run_worker()  # and the next sweep finds nothing to do

    depot.refresh_from_db()
    assert depot.recu.name.startswith(f"recus/{dossier.appel.slug}/{dossier.numero}-v1-")
    assert len(mailoutbox) == 1
    assert [
        (task.status, task.return_value, task.run_after - start)
        for task in Tache.objects.order_by("run_after")
    ] == [
        (TaskResultStatus.SUCCESSFUL, 0, datetime.timedelta(0)),
        (TaskResultStatus.SUCCESSFUL, 1, datetime.timedelta(seconds=600)),
        (TaskResultStatus.SUCCESSFUL, 0, datetime.timedelta(seconds=1200)),
        (TaskResultStatus.READY, None, datetime.timedelta(seconds=1800)),
    ]
