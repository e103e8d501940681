"""A question's file leaves storage with its row: the retention rule (12 months after the
cycle's last séance, with the other rules of ``purger_donnees``) and a participant or a cycle
deleted in the admin (the cascade's files too)."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from candidatures.appels.models import end_of_day
from candidatures.retention import purge, shift_months
from cycle.models import Cycle, Participant
from cycle.questions import services
from cycle.questions.models import EntreeFAQ, QuestionCerdd
from cycle.questions.retention import QUESTIONS
from cycle.questions.views import RETENTION_NOTE
from tests.candidatures.factories import tiny_pdf_bytes
from tests.cycle.factories import ParticipantFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def pdf(name="plan.pdf", text="Plan de la concertation"):
    return SimpleUploadedFile(name, tiny_pdf_bytes(text), content_type="application/pdf")


@pytest.fixture
def question(participant, asker):
    return services.ask_question(
        participant=participant, auteur=asker, texte="Quel plan ?", fichier=pdf()
    )


def stored(field_file):
    return field_file.storage, field_file.name


def end_of_cycle(cycle):
    return end_of_day(cycle.seances.order_by("-date").first().date)


def test_questions_and_their_files_are_deleted_12_months_after_the_last_seance(
    cycle, participant, asker, question, staff, django_capture_on_commit_callbacks
):
    services.answer_question(question=question, staff_user=staff, reponse="Celui-ci.")
    entree = services.publish_to_faq(
        question=question, staff_user=staff, question_texte="Quel plan ?", reponse="Celui-ci."
    )
    later = UserFactory()
    other_cycle = ParticipantFactory(createur=later)
    other_cycle.cycle.seances.update(date=end_of_cycle(cycle).date() + timedelta(days=400))
    kept = services.ask_question(
        participant=other_cycle, auteur=later, texte="Et nous ?", fichier=pdf()
    )
    storage, name = stored(question.fichier)
    assert storage.exists(name)
    limit = shift_months(end_of_cycle(cycle), 12)

    with django_capture_on_commit_callbacks(execute=True):
        assert purge(now=limit - timedelta(seconds=1))[QUESTIONS] == 0
    assert QuestionCerdd.objects.count() == 2
    assert storage.exists(name)

    with django_capture_on_commit_callbacks(execute=True):
        assert purge(now=limit + timedelta(seconds=1))[QUESTIONS] == 1

    assert list(QuestionCerdd.objects.all()) == [kept]
    assert not storage.exists(name)
    assert storage.exists(kept.fichier.name)
    # The FAQ entry, written without names, stays; only its link to the question goes.
    entree.refresh_from_db()
    assert (entree.question_id, entree.question_texte) == (None, "Quel plan ?")
    assert EntreeFAQ.objects.count() == 1


def test_a_purge_rolled_back_keeps_the_file(
    cycle, question, time_machine, django_capture_on_commit_callbacks
):
    storage, name = stored(question.fichier)
    time_machine.move_to(shift_months(end_of_cycle(cycle), 12) + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("purger_donnees", "--dry-run")
    assert QuestionCerdd.objects.count() == 1
    assert storage.exists(name)


def test_purger_donnees_reports_the_questions_rule(cycle, question, capsys, time_machine):
    time_machine.move_to(shift_months(end_of_cycle(cycle), 12) + timedelta(days=1))
    call_command("purger_donnees", "--dry-run")
    assert f"{QUESTIONS} à supprimer : 1" in capsys.readouterr().out
    call_command("purger_donnees")
    assert f"{QUESTIONS} supprimés : 1" in capsys.readouterr().out
    assert QuestionCerdd.objects.count() == 0


@pytest.fixture
def superuser():
    return UserFactory(email="admin@cerdd.test", is_staff=True, is_superuser=True)


def test_a_participant_deleted_in_the_admin_takes_its_files_with_it(
    client, participant, question, superuser, django_capture_on_commit_callbacks
):
    voisin = UserFactory()
    other = ParticipantFactory(cycle=participant.cycle, createur=voisin)
    kept = services.ask_question(participant=other, auteur=voisin, texte="Et nous ?", fichier=pdf())
    storage, name = stored(question.fichier)
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/admin/cycle/participant/{participant.pk}/delete/", {"post": "yes"}
        )

    assert response.status_code == 302
    assert list(Participant.objects.all()) == [other]
    assert list(QuestionCerdd.objects.all()) == [kept]
    assert not storage.exists(name)
    assert kept.fichier.storage.exists(kept.fichier.name)


def test_cycles_deleted_from_the_admin_list_take_their_files_with_them(
    client, cycle, question, superuser, django_capture_on_commit_callbacks
):
    storage, name = stored(question.fichier)
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/cycle/cycle/",
            {"action": "delete_selected", "_selected_action": [cycle.pk], "post": "yes"},
        )

    assert response.status_code == 302
    assert (Cycle.objects.count(), QuestionCerdd.objects.count()) == (0, 0)
    assert not storage.exists(name)


@pytest.mark.parametrize("how", ["page", "action"])
def test_a_question_deleted_by_a_superuser_takes_its_file_with_it(
    how, client, participant, question, superuser, django_capture_on_commit_callbacks
):
    storage, name = stored(question.fichier)
    client.force_login(superuser)

    with django_capture_on_commit_callbacks(execute=True):
        if how == "page":
            response = client.post(
                f"/admin/cycle/questioncerdd/{question.pk}/delete/", {"post": "yes"}
            )
        else:
            response = client.post(
                "/admin/cycle/questioncerdd/",
                {"action": "delete_selected", "_selected_action": [question.pk], "post": "yes"},
            )

    assert response.status_code == 302
    assert QuestionCerdd.objects.count() == 0
    assert not storage.exists(name)


def test_chargee_de_mission_cannot_delete_a_participant_or_a_question(
    client, participant, question, staff
):
    client.force_login(staff)
    response = client.post(f"/admin/cycle/participant/{participant.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    response = client.post(f"/admin/cycle/questioncerdd/{question.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert QuestionCerdd.objects.count() == 1
    assert question.fichier.storage.exists(question.fichier.name)


def test_mes_questions_states_the_retention_rule(client, participant, asker):
    client.force_login(asker)
    html = client.get(f"/cycle/{participant.pk}/questions/").content.decode()
    assert RETENTION_NOTE.replace("'", "&#x27;") in html
