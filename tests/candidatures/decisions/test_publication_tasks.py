"""Publication in the background: the letters' task (run twice, each e-mail leaves once) and
the publication programmed for the call's announcement datetime, run by the worker."""

import uuid
from datetime import timedelta

import pytest
import time_machine
from django.contrib.admin.models import LogEntry
from django.core.exceptions import ValidationError
from django.tasks import TaskResultStatus

from candidatures.decisions import publication, scheduling
from candidatures.models import Appel, Courrier, Decision, EnvoiCourrier, Issue
from cerdd_ami.models import Tache
from tests.candidatures.decisions.decisions_helpers import ANNOUNCEMENT, decide, deposee, referents
from tests.candidatures.factories import AppelFactory
from tests.conftest import run_worker
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import page_text, pdf_text

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


# ---------------------------------------------------------------------------------------------
# « Programmer la publication »

BEFORE = ANNOUNCEMENT - timedelta(days=1)
PROMOTED = ANNOUNCEMENT + timedelta(days=6)
APPELS_URL = "/admin/candidatures/appel/"


def history(appel):
    return list(
        LogEntry.objects.filter(object_id=str(appel.pk))
        .order_by("pk")
        .values_list("user__email", "change_message")
    )


def test_scheduled_publication_runs_at_the_announcement_and_not_before(
    database_queue, appel, arras, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)
    with time_machine.travel(BEFORE, tick=False) as clock:
        when = scheduling.schedule_publication(appel=appel, staff_user=staff)

        appel.refresh_from_db()
        task = Tache.objects.get()
        assert when == appel.publication_programmee_at == ANNOUNCEMENT
        assert (task.pk, task.task_path, task.run_after, task.status) == (
            uuid.UUID(appel.publication_tache_id),
            "candidatures.decisions.scheduling.publish_scheduled",
            ANNOUNCEMENT,
            TaskResultStatus.READY,
        )
        assert task.label == "Publication programmée des décisions"
        assert history(appel) == [
            (
                "charge@cerdd.test",
                "Publication programmée le 15 avril 2021 à 9 h 00 (heure de Paris).",
            )
        ]

        run_worker()
        clock.move_to(ANNOUNCEMENT - timedelta(seconds=1))
        run_worker()
        assert (Decision.objects.get().published_at, mailoutbox) == (None, [])

        clock.move_to(ANNOUNCEMENT)
        run_worker()
        run_worker()

    assert Decision.objects.get().published_at == ANNOUNCEMENT
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras))
    appel.refresh_from_db()
    assert (appel.decisions_published_at, appel.publication_programmee_at) == (ANNOUNCEMENT, None)
    assert appel.publication_tache_id == ""
    assert history(appel)[1:] == [
        ("charge@cerdd.test", "Publication programmée effectuée : 1 décision(s) publiée(s).")
    ]
    assert [h.history_user for h in Decision.objects.get().history.order_by("history_id")] == [
        staff,
        staff,
    ]
    assert list(Tache.objects.values_list("task_path", "status").order_by("enqueued_at")) == [
        ("candidatures.decisions.scheduling.publish_scheduled", TaskResultStatus.SUCCESSFUL),
        ("candidatures.decisions.publication.deliver_letters", TaskResultStatus.SUCCESSFUL),
    ]


def test_scheduled_publication_refused_tells_who_programmed_it_once(
    database_queue, appel, arras, staff, mailoutbox, settings
):
    settings.TASKS_RETRY_DELAYS = [30, 90]
    decide(arras, Issue.RETENUE, staff)
    with time_machine.travel(BEFORE, tick=False) as clock:
        scheduling.schedule_publication(appel=appel, staff_user=staff)
        lille = deposee(appel, 2)  # deposited after the programme, never decided
        clock.move_to(ANNOUNCEMENT)
        run_worker()
        clock.shift(30)
        run_worker()

    task = Tache.objects.get()
    assert (task.status, task.attempts) == (TaskResultStatus.READY, 2)
    assert Decision.objects.get().published_at is None
    [email] = mailoutbox
    assert (email.to, email.subject) == (
        ["charge@cerdd.test"],
        f"Publication programmée non effectuée — {appel.titre}",
    )
    assert (
        f"La publication des décisions de l'appel « {appel.titre} », programmée le 15 avril "
        "2021 à 9 h 00, n'a pas eu lieu :\n"
        f"- 1 dossier déposé sans décision : {lille.collectivite.nom} ({lille.numero}). "
        "Décidez de chaque dossier avant de publier.\n"
    ) in email.body
    assert "pendant environ 2 minutes" in email.body
    assert (
        "http://127.0.0.1:8000/admin/candidatures/decision/"
        f"?candidature__appel__id__exact={appel.pk}"
    ) in email.body


def test_scheduled_task_run_again_publishes_and_sends_nothing_more(
    database_queue, appel, arras, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)
    with time_machine.travel(BEFORE, tick=False) as clock:
        scheduling.schedule_publication(appel=appel, staff_user=staff)
        task = Tache.objects.get()
        clock.move_to(ANNOUNCEMENT)
        run_worker()
        sent = len(mailoutbox)

        # The same task handed to a worker again (a retry after its worker died, say).
        task.status = TaskResultStatus.READY
        task.save(update_fields=["status"])
        run_worker()

    assert (sent, len(mailoutbox)) == (2, 2)
    assert Tache.objects.get(pk=task.pk).return_value == {
        "publiees": 0,
        "ignoree": "programmation annulée ou remplacée",
    }


def test_cancelled_publication_does_not_run(database_queue, appel, arras, staff, mailoutbox):
    decide(arras, Issue.RETENUE, staff)
    with time_machine.travel(BEFORE, tick=False) as clock:
        scheduling.schedule_publication(appel=appel, staff_user=staff)
        scheduling.cancel_scheduled_publication(appel=appel, staff_user=staff)
        clock.move_to(ANNOUNCEMENT + timedelta(hours=1))
        run_worker()

    appel.refresh_from_db()
    assert (appel.publication_programmee_at, appel.publication_tache_id) == (None, "")
    assert (Tache.objects.count(), Decision.objects.get().published_at, mailoutbox) == (
        0,
        None,
        [],
    )
    assert [message for _, message in history(appel)] == [
        "Publication programmée le 15 avril 2021 à 9 h 00 (heure de Paris).",
        "Programmation de la publication du 15 avril 2021 à 9 h 00 (heure de Paris) annulée.",
    ]


def test_cancel_is_refused_once_the_worker_has_started(database_queue, appel, arras, staff):
    decide(arras, Issue.RETENUE, staff)
    with time_machine.travel(BEFORE, tick=False):
        scheduling.schedule_publication(appel=appel, staff_user=staff)
    Tache.objects.update(status=TaskResultStatus.RUNNING)

    with pytest.raises(ValidationError) as refused:
        scheduling.cancel_scheduled_publication(appel=appel, staff_user=staff)

    assert refused.value.messages == [
        "La publication programmée est en cours : il est trop tard pour l'annuler."
    ]
    appel.refresh_from_db()
    assert appel.publication_programmee_at == ANNOUNCEMENT
    assert Tache.objects.count() == 1


def test_announcement_moved_later_the_task_programmes_itself_again(
    database_queue, appel, arras, staff, mailoutbox
):
    decide(arras, Issue.RETENUE, staff)
    later = ANNOUNCEMENT + timedelta(days=2)
    with time_machine.travel(BEFORE, tick=False) as clock:
        scheduling.schedule_publication(appel=appel, staff_user=staff)
        Appel.objects.filter(pk=appel.pk).update(announcement_at=later)
        clock.move_to(ANNOUNCEMENT)
        run_worker()
        appel.refresh_from_db()
        assert (appel.publication_programmee_at, Decision.objects.get().published_at) == (
            later,
            None,
        )
        clock.move_to(later)
        run_worker()

    assert Decision.objects.get().published_at == later
    assert len(mailoutbox) == 2


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            "published",
            "Les décisions de cet appel sont déjà publiées : rien à programmer.",
        ),
        (
            "scheduled",
            "La publication est déjà programmée le 15 avril 2021 à 9 h 00 (heure de Paris).",
        ),
        (
            "past",
            "La date de réponse aux collectivités (15 avril 2021 à 9 h 00 (heure de Paris)) est "
            "passée : publiez les décisions maintenant, avec « Publier les décisions ».",
        ),
        ("empty", "Aucune décision à publier pour cet appel."),
    ],
)
def test_schedule_publication_refusals(database_queue, appel, arras, staff, setup, message):
    if setup != "empty":
        decide(arras, Issue.RETENUE, staff)
    now = ANNOUNCEMENT if setup == "past" else BEFORE
    if setup == "published":
        publication.publish_decisions(appel=appel, now=ANNOUNCEMENT, send=False)
    if setup == "scheduled":
        scheduling.schedule_publication(appel=appel, staff_user=staff, now=BEFORE)
    tasks_before = Tache.objects.count()

    with pytest.raises(ValidationError) as refused:
        scheduling.schedule_publication(appel=appel, staff_user=staff, now=now)

    assert refused.value.messages == [message]
    assert Tache.objects.count() == tasks_before


def test_schedule_publication_needs_the_database_queue(appel, arras, staff):
    decide(arras, Issue.RETENUE, staff)

    with pytest.raises(ValidationError) as refused:
        scheduling.schedule_publication(appel=appel, staff_user=staff, now=BEFORE)

    assert refused.value.messages == [
        "La programmation demande la file de tâches en base de données (TASKS_BACKEND=database) "
        "et son worker."
    ]
    appel.refresh_from_db()
    assert appel.publication_programmee_at is None


def test_schedule_action_confirms_then_the_list_shows_it_and_cancel_clears_it(
    database_queue, client, appel, arras, lille, staff
):
    decide(arras, Issue.RETENUE, staff)
    client.force_login(staff)
    selection = {"action": "programmer_publication", "_selected_action": [appel.pk]}

    with time_machine.travel(BEFORE, tick=False):
        confirm = page_text(client.post(APPELS_URL, selection))
        assert (
            "Publication programmée pour le <strong>15 avril 2021 à 9 h 00</strong> (heure de "
            "Paris)." in confirm
        )
        assert Tache.objects.count() == 0

        response = client.post(APPELS_URL, {**selection, "apply": "1"}, follow=True)

    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        (
            "success",
            f"{appel} : publication programmée le 15 avril 2021 à 9 h 00 (heure de Paris). Elle "
            "se fera même si personne n'est connecté ; « Annuler la programmation » l'arrête "
            "jusque-là.",
        ),
        (
            "warning",
            f"{appel} : 1 dossier déposé sans décision. Décidez de chaque dossier d'ici là, "
            "sinon la publication sera refusée.",
        ),
    ]
    assert "Publication programmée le 15 avril 2021 à 9 h 00" in page_text(response)

    response = client.post(
        APPELS_URL, {"action": "annuler_programmation", "_selected_action": [appel.pk]}, follow=True
    )

    assert [(m.level_tag, m.message) for m in response.context["messages"]] == [
        ("success", f"{appel} : programmation de la publication annulée.")
    ]
    assert "Publication programmée le" not in page_text(response)
    assert Tache.objects.count() == 0


def test_schedule_action_anonymous_is_sent_to_sign_in(database_queue, client, appel, arras):
    selection = {"action": "programmer_publication", "_selected_action": [appel.pk], "apply": "1"}

    response = client.post(APPELS_URL, selection)

    assert (response.status_code, response["Location"]) == (
        302,
        f"/admin/login/?next={APPELS_URL}",
    )
    assert Tache.objects.count() == 0


def test_schedule_action_refused_to_a_juror(database_queue, client, appel, arras, staff):
    decide(arras, Issue.RETENUE, staff)
    client.force_login(juror())
    selection = {"action": "programmer_publication", "_selected_action": [appel.pk], "apply": "1"}

    with time_machine.travel(BEFORE, tick=False):
        response = client.post(APPELS_URL, selection)

    assert response.status_code == 403
    appel.refresh_from_db()
    assert (appel.publication_programmee_at, Tache.objects.count()) == (None, 0)


def test_command_par_le_worker_publishes_and_leaves_the_letters_to_the_worker(
    database_queue, appel, arras, lille, staff, mailoutbox
):
    import io

    from django.core.management import call_command

    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.NON_RETENUE, staff)
    out = io.StringIO()

    with time_machine.travel(ANNOUNCEMENT, tick=False):
        call_command("publier_decisions", "--appel", "2021", "--par-le-worker", stdout=out)

    assert out.getvalue().splitlines() == [
        f"Appel : {appel.titre} (2021)",
        "Décisions publiées : 2",
        "Courriers en cours de classement et d'envoi par le worker : suivez-les dans "
        "« Tâches de fond » et « Envois de courrier ».",
    ]
    assert (Courrier.objects.count(), mailoutbox) == (0, [])
    assert list(Tache.objects.values_list("task_path", flat=True)) == [
        "candidatures.decisions.publication.deliver_letters"
    ]

    run_worker()

    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(arras) + referents(lille))
    assert Tache.objects.get().status == TaskResultStatus.SUCCESSFUL


def test_promotion_after_publication_leaves_its_letter_to_the_worker(
    database_queue, appel, arras, lille, staff, mailoutbox
):
    from candidatures.decisions import services as decisions_services

    appel.places = 1
    appel.save()
    decide(arras, Issue.RETENUE, staff)
    decide(lille, Issue.LISTE_ATTENTE, staff)
    publication.publish_decisions(appel=appel, now=ANNOUNCEMENT)
    mailoutbox.clear()
    decisions_services.record_withdrawal(
        candidature=arras, staff_user=staff, reason="Élections municipales."
    )

    with time_machine.travel(PROMOTED, tick=False):
        promoted = publication.promote_next(appel=appel, staff_user=staff)

    # Nothing rendered in the request: the worker files the new letter, then sends it.
    assert list(promoted.courriers.values_list("version", "issue")) == [(1, Issue.LISTE_ATTENTE)]
    assert mailoutbox == []
    assert list(Tache.objects.values_list("task_path", "args_kwargs")) == [
        (
            "candidatures.decisions.publication.deliver_letters",
            {"args": [], "kwargs": {"appel_id": appel.pk}},
        )
    ]

    run_worker()
    publication.deliver_letters.enqueue(appel_id=appel.pk)
    run_worker()  # run again: nothing filed nor sent twice

    letter = promoted.courriers.get(version=2)
    assert list(promoted.courriers.values_list("version", "issue")) == [
        (2, Issue.RETENUE),
        (1, Issue.LISTE_ATTENTE),
    ]
    text = pdf_text(letter.pdf.read())
    assert "est retenue pour le cycle de qualification" in text
    assert "le 21 avril 2021" in text  # the day of the promotion, not of the publication
    assert sorted(m.to[0] for m in mailoutbox) == sorted(referents(lille))
    assert set(letter.envois.values_list("statut", "tentatives")) == {("envoye", 1)}
