"""« Questions au Cerdd »: a participant asks, staff assign and answer from one inbox, and an
answer useful to all is published in the cycle's FAQ without the asker's identity."""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from candidatures.dossiers import hooks as dossiers_hooks
from cerdd_ami.models import Notification
from cycle.participants.models import Participant
from cycle.questions import services
from cycle.questions.models import EntreeFAQ, QuestionCerdd
from tests.cycle.factories import ParticipantFactory
from tests.factories import UserFactory, charge_de_mission

pytestmark = pytest.mark.django_db


def pdf(name="plan.pdf", content=b"%PDF-1.7\nplan"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def voisin():
    return UserFactory(email="dgs@lens.test")


@pytest.fixture
def autre_participant(cycle, voisin):
    """Another collectivité of the same cycle."""
    return ParticipantFactory(cycle=cycle, createur=voisin)


def ask(participant, auteur, texte="Une question ?", **kwargs):
    return services.ask_question(participant=participant, auteur=auteur, texte=texte, **kwargs)


def questions_url(participant):
    return f"/cycle/{participant.pk}/questions/"


def faq_url(participant):
    return f"/cycle/{participant.pk}/faq/"


# ---------------------------------------------------------------------------------------------
# Services


def test_ask_question_notifies_the_team_by_email(
    participant, asker, staff, cycle, django_capture_on_commit_callbacks
):
    seance = cycle.seances.get(numero=2)
    with django_capture_on_commit_callbacks(execute=True):
        question = ask(participant, asker, "  Bonjour,\nune question.  ", seance=seance)

    assert QuestionCerdd.objects.values_list("texte", "seance__numero", "auteur__email").get() == (
        "Bonjour,\nune question.",
        2,
        "maire@arras.test",
    )
    assert [m.to for m in mail.outbox] == [["charge@cerdd.test"]]
    assert f"/admin/cycle/questioncerdd/{question.pk}/repondre/" in mail.outbox[0].body
    assert "une question" not in mail.outbox[0].body


def test_ask_question_with_attachment_stores_it(participant, asker):
    question = ask(participant, asker, fichier=pdf())

    question.refresh_from_db()
    assert (question.nom_original, question.type_mime, question.taille) == (
        "plan.pdf",
        "application/pdf",
        len(b"%PDF-1.7\nplan"),
    )
    with question.fichier.open("rb") as handle:
        assert handle.read() == b"%PDF-1.7\nplan"


def test_ask_question_refuses_a_disguised_file(participant, asker):
    with pytest.raises(ValidationError):
        ask(participant, asker, fichier=pdf("plan.pdf", b"MZ\x90\x00 not a pdf"))

    assert QuestionCerdd.objects.count() == 0


@pytest.mark.parametrize(
    ("texte", "expected"),
    [("   ", "Écrivez votre question."), ("x" * 5001, "Le texte compte 5001 caractères")],
)
def test_ask_question_refuses_empty_or_too_long(participant, asker, texte, expected):
    with pytest.raises(ValidationError) as error:
        ask(participant, asker, texte)

    assert error.value.messages[0].startswith(expected)
    assert QuestionCerdd.objects.count() == 0


def test_ask_question_refuses_a_stranger_and_another_cycles_seance(participant, asker):
    with pytest.raises(PermissionDenied):
        ask(participant, UserFactory())
    other_seance = ParticipantFactory().cycle.seances.first()
    with pytest.raises(ValidationError):
        ask(participant, asker, seance=other_seance)

    assert QuestionCerdd.objects.count() == 0


def test_withdrawn_participant_no_longer_asks(participant, asker):
    Participant.objects.filter(pk=participant.pk).update(statut=Participant.Statut.RETIRE)

    with pytest.raises(ValidationError) as error:
        ask(participant, asker)

    assert error.value.messages == [services.WITHDRAWN]
    assert QuestionCerdd.objects.count() == 0


def test_assign_question_notifies_the_assignee(participant, asker, staff):
    question = ask(participant, asker)
    collegue = charge_de_mission(email="collegue@cerdd.test")
    Notification.objects.all().delete()

    services.assign_question(question=question, staff_user=staff, assignee=collegue)

    assert QuestionCerdd.objects.get().assignee == collegue
    assert list(Notification.objects.values_list("user__email", "url")) == [
        ("collegue@cerdd.test", f"/admin/cycle/questioncerdd/{question.pk}/repondre/")
    ]


def test_assign_question_refuses_a_non_staff_assignee_or_actor(participant, asker, staff):
    question = ask(participant, asker)

    with pytest.raises(ValidationError):
        services.assign_question(question=question, staff_user=staff, assignee=asker)
    with pytest.raises(PermissionDenied):
        services.assign_question(question=question, staff_user=asker, assignee=staff)
    assert QuestionCerdd.objects.get().assignee is None


def test_answer_question_notifies_the_asker_once(
    participant, asker, staff, django_capture_on_commit_callbacks
):
    question = ask(participant, asker)
    Notification.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        services.answer_question(question=question, staff_user=staff, reponse=" Voici. ")
    services.answer_question(question=question, staff_user=staff, reponse="Voici, corrigé.")

    question.refresh_from_db()
    assert (question.reponse, question.repondue_par, question.etat) == (
        "Voici, corrigé.",
        staff,
        QuestionCerdd.Etat.REPONDUE,
    )
    assert list(Notification.objects.values_list("user__email", "url")) == [
        ("maire@arras.test", f"/cycle/{participant.pk}/questions/#question-{question.pk}")
    ]
    assert [m.to for m in mail.outbox] == [["maire@arras.test"]]


def test_publish_to_faq_copies_no_identity_and_updates(participant, asker, staff):
    question = ask(participant, asker, "Moi, maire d'Arras, je demande : quand ?")
    with pytest.raises(ValidationError):
        services.publish_to_faq(
            question=question, staff_user=staff, question_texte="Quand ?", reponse="Demain."
        )
    services.answer_question(question=question, staff_user=staff, reponse="Demain.")

    services.publish_to_faq(
        question=question, staff_user=staff, question_texte="Quand ?", reponse="Demain."
    )
    services.publish_to_faq(
        question=question, staff_user=staff, question_texte="Quand donc ?", reponse="Demain."
    )

    assert list(EntreeFAQ.objects.values_list("cycle", "question_texte", "reponse")) == [
        (participant.cycle_id, "Quand donc ?", "Demain.")
    ]


def test_mes_donnees_include_the_questions(participant, asker, staff):
    question = ask(participant, asker, "Ma question")
    services.answer_question(question=question, staff_user=staff, reponse="La réponse")

    sections = dict(fn(participant.candidature) for fn in dossiers_hooks.data_sections)

    assert sections["questions_au_cerdd"] == [
        {
            "date": question.created_at,
            "de": "maire@arras.test",
            "seance": None,
            "question": "Ma question",
            "fichier": "",
            "reponse": "La réponse",
            "repondue_le": QuestionCerdd.objects.get().repondue_at,
        }
    ]


# ---------------------------------------------------------------------------------------------
# Participant pages


def test_mes_questions_asks_and_shows_the_answer(client, participant, asker, staff):
    client.force_login(asker)

    response = client.post(
        questions_url(participant), {"texte": "<b>Bonjour</b>\nligne 2", "fichier": pdf()}
    )

    question = QuestionCerdd.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/cycle/{participant.pk}/questions/#question-{question.pk}"
    services.answer_question(question=question, staff_user=staff, reponse="Oui\nbien sûr")
    page = client.get(questions_url(participant)).content.decode()
    assert "&lt;b&gt;Bonjour&lt;/b&gt;<br>ligne 2" in page
    assert "Oui<br>bien sûr" in page
    assert "plan.pdf" in page
    assert Notification.objects.filter(user=asker, read_at__isnull=True).count() == 0
    download = client.get(f"/cycle/{participant.pk}/questions/{question.pk}/fichier/")
    assert b"".join(download.streaming_content) == b"%PDF-1.7\nplan"


@pytest.mark.parametrize(
    ("texte", "expected"),
    [("   ", "Écrivez votre question."), ("y" * 5001, "Le texte compte 5001 caractères")],
)
def test_mes_questions_refuses_in_french_keeping_the_text(
    client, participant, asker, texte, expected
):
    client.force_login(asker)

    response = client.post(questions_url(participant), {"texte": texte})

    assert response.status_code == 400
    page = response.content.decode()
    assert expected in page
    if texte.strip():
        assert texte in page
    assert QuestionCerdd.objects.count() == 0


def test_mes_questions_keeps_the_text_when_the_file_is_refused(client, participant, asker):
    client.force_login(asker)

    response = client.post(
        questions_url(participant),
        {"texte": "Mon texte soigné", "fichier": pdf("plan.pdf", b"MZ\x90 exe")},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Mon texte soigné" in page
    assert "choisissez à nouveau le fichier" in page
    assert QuestionCerdd.objects.count() == 0


def test_mes_questions_anonymous_is_redirected(client, participant):
    response = client.get(questions_url(participant))

    assert response.status_code == 302
    assert response["Location"].startswith("/connexion/")


def test_mes_questions_of_another_collectivite_is_404(
    client, participant, voisin, autre_participant
):
    ask(participant, participant.candidature.acces.get().user, "Secret d'Arras")
    client.force_login(voisin)

    assert client.get(questions_url(participant)).status_code == 404
    assert client.post(questions_url(participant), {"texte": "x"}).status_code == 404
    assert "Secret d'Arras" not in client.get(questions_url(autre_participant)).content.decode()


def test_withdrawn_participant_reads_but_no_longer_asks(client, participant, asker, staff):
    question = ask(participant, asker, "Avant mon retrait")
    services.answer_question(question=question, staff_user=staff, reponse="Réponse lue")
    Participant.objects.filter(pk=participant.pk).update(statut=Participant.Statut.RETIRE)
    client.force_login(asker)

    page = client.get(questions_url(participant)).content.decode()
    response = client.post(questions_url(participant), {"texte": "Après"})

    assert "Réponse lue" in page
    assert 'name="texte"' not in page
    assert services.WITHDRAWN.split(":")[0].replace("'", "&#x27;") in page
    assert response.status_code == 302
    assert list(QuestionCerdd.objects.values_list("texte", flat=True)) == ["Avant mon retrait"]
    assert client.get(faq_url(participant)).status_code == 200


def test_faq_shows_entries_to_the_cycle_only(
    client, participant, asker, staff, voisin, autre_participant
):
    question = ask(participant, asker, "Moi, maire d'Arras : <i>quand</i> ?")
    services.answer_question(question=question, staff_user=staff, reponse="Demain.")
    services.publish_to_faq(
        question=question,
        staff_user=staff,
        question_texte="<i>Quand</i> ?\nPrécisément",
        reponse="Demain.\nÀ 9 h.",
    )
    stranger = UserFactory()
    ParticipantFactory(createur=stranger)  # another cycle
    client.force_login(voisin)

    page = client.get(faq_url(autre_participant)).content.decode()

    assert "&lt;i&gt;Quand&lt;/i&gt; ?<br>Précisément" in page
    assert "Demain.<br>À 9 h." in page
    assert "Arras" not in page
    assert "maire@arras.test" not in page
    # The FAQ of a participation that is not one's own (another cycle, or not retained): 404.
    client.force_login(stranger)
    assert client.get(faq_url(participant)).status_code == 404
    client.logout()
    assert client.get(faq_url(participant)).status_code == 302


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context.captured_queries)


def test_faq_and_mes_questions_query_count_does_not_grow(client, participant, asker, staff):
    def add():
        question = ask(participant, asker, fichier=pdf())
        services.answer_question(question=question, staff_user=staff, reponse="R")
        services.publish_to_faq(
            question=question, staff_user=staff, question_texte="Q", reponse="R"
        )

    add()
    client.force_login(asker)
    client.get("/")  # the session now remembers the menu's cycle check
    one = (_queries(client, faq_url(participant)), _queries(client, questions_url(participant)))
    for _ in range(4):
        add()
    many = (_queries(client, faq_url(participant)), _queries(client, questions_url(participant)))

    assert one == many


# ---------------------------------------------------------------------------------------------
# Staff inbox


def test_inbox_lists_unanswered_count_and_age(client, participant, asker, staff):
    old = ask(participant, asker, "Ancienne question")
    QuestionCerdd.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))
    answered = ask(participant, asker, "Question close")
    services.answer_question(question=answered, staff_user=staff, reponse="Oui")
    client.force_login(staff)

    page = client.get("/admin/cycle/questioncerdd/").content.decode()

    assert "1 question en attente de réponse" in page
    assert "en attente depuis 3 jours" in page
    assert page.index("Ancienne question") < page.index("Question close")
    filtered = client.get("/admin/cycle/questioncerdd/?etat=repondue").content.decode()
    assert "Ancienne question" not in filtered
    assert "Question close" in filtered


def test_inbox_query_count_does_not_grow(client, participant, asker, staff):
    ask(participant, asker)
    client.force_login(staff)
    one = _queries(client, "/admin/cycle/questioncerdd/")
    for _ in range(4):
        services.assign_question(question=ask(participant, asker), staff_user=staff, assignee=staff)

    assert _queries(client, "/admin/cycle/questioncerdd/") == one


def test_staff_assign_answer_and_publish_from_the_admin(client, participant, asker, staff):
    question = ask(participant, asker, "Ma question")
    collegue = charge_de_mission(email="collegue@cerdd.test")
    client.force_login(staff)
    url = f"/admin/cycle/questioncerdd/{question.pk}/repondre/"

    assert client.get(url).status_code == 200
    client.post(url, {"assign-assignee": collegue.pk, "confier": "1"})
    client.post(url, {"reponse-reponse": "La réponse", "repondre": "1"})
    response = client.post(
        url, {"faq-question_texte": "Question anonyme", "faq-reponse": "La réponse", "publier": "1"}
    )

    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.assignee, question.reponse, question.repondue_par) == (
        collegue,
        "La réponse",
        staff,
    )
    assert list(EntreeFAQ.objects.values_list("question_texte", "reponse")) == [
        ("Question anonyme", "La réponse")
    ]


def test_staff_empty_answer_is_refused_in_french(client, participant, asker, staff):
    question = ask(participant, asker)
    client.force_login(staff)

    response = client.post(
        f"/admin/cycle/questioncerdd/{question.pk}/repondre/",
        {"reponse-reponse": "  ", "repondre": "1"},
    )

    assert response.status_code == 400
    assert "Écrivez la réponse." in response.content.decode()
    assert QuestionCerdd.objects.get().repondue_at is None


def test_inbox_refuses_anonymous_and_applicants(client, participant, asker):
    question = ask(participant, asker)
    url = f"/admin/cycle/questioncerdd/{question.pk}/repondre/"

    assert client.get(url).status_code == 302
    client.force_login(asker)
    assert client.get(url).status_code == 302
    assert client.post(url, {"reponse-reponse": "x", "repondre": "1"}).status_code == 302
    assert QuestionCerdd.objects.get().repondue_at is None
