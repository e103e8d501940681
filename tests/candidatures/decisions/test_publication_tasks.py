"""Publication in the background: the letters' task (run twice, each e-mail leaves once) and
the publication programmed for the call's announcement datetime, run by the worker."""

import pytest
from django.tasks import TaskResultStatus

from candidatures.decisions import publication
from candidatures.models import Courrier, EnvoiCourrier, Issue
from cerdd_ami.models import Tache
from tests.candidatures.decisions.test_decisions import ANNOUNCEMENT, decide, deposee, referents
from tests.candidatures.factories import AppelFactory
from tests.conftest import run_worker
from tests.factories import UserFactory, charge_de_mission

pytestmark = pytest.mark.django_db


@pytest.fixture
def appel():
    return AppelFactory(edition_2021=True, slug="2021", places=12)


@pytest.fixture
def staff():
    from cerdd_ami.permissions import sync_role_permissions

    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def arras(appel):
    return deposee(appel, 1, createur=UserFactory(email="julien.martin@arras.exemple.test"))


@pytest.fixture
def lille(appel):
    return deposee(appel, 2)


def test_letters_task_run_twice_sends_each_email_once(appel, arras, lille, staff, mailoutbox):
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    publication.publish_decisions_in_background(appel=appel, now=ANNOUNCEMENT, staff_user=staff)
    assert (Courrier.objects.count(), mailoutbox) == (0, [])  # not committed: no task yet

    first = publication.deliver_letters.call(appel_id=appel.pk)
    second = publication.deliver_letters.call(appel_id=appel.pk)

    assert (first, second) == (
        {"courriers_classes": 2, "emails_envoyes": 4},
        {"courriers_classes": 0, "emails_envoyes": 0},
    )
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras) + referents(lille))
    assert list(EnvoiCourrier.objects.values_list("statut", "tentatives")) == [("envoye", 1)] * 4


def test_publication_enqueued_twice_the_worker_sends_each_email_once(
    database_queue, appel, arras, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)
    publication.publish_decisions_in_background(appel=appel, now=ANNOUNCEMENT, staff_user=staff)
    publication.publish_decisions_in_background(appel=appel, now=ANNOUNCEMENT, staff_user=staff)
    assert (
        list(Tache.objects.values_list("task_path", "args_kwargs", "status"))
        == [
            (
                "candidatures.decisions.publication.deliver_letters",
                {"args": [], "kwargs": {"appel_id": appel.pk}},
                TaskResultStatus.READY,
            )
        ]
        * 2
    )
    assert mailoutbox == []

    run_worker()

    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras))
    assert list(Tache.objects.values_list("status", "return_value").order_by("finished_at")) == [
        (TaskResultStatus.SUCCESSFUL, {"courriers_classes": 1, "emails_envoyes": 2}),
        (TaskResultStatus.SUCCESSFUL, {"courriers_classes": 0, "emails_envoyes": 0}),
    ]
