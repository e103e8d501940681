"""The dossier's thread: référent·es and staff write, jurors never read; a « demande de
complément » lets the requested piece in after the deadline, and nothing else."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from candidatures.dossiers.models import Evenement, PieceJointe
from candidatures.messagerie import services
from candidatures.messagerie.models import Message
from cerdd_ami.models import Notification
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import AppelFactory, CandidatureFactory
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import page_text

pytestmark = pytest.mark.django_db


def pdf(name="complement.pdf", content=b"%PDF-1.7\nattestation"):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def referent():
    return UserFactory(email="mairie@arras.test")


@pytest.fixture
def dossier(referent):
    return CandidatureFactory(appel=AppelFactory(), createur=referent)


@pytest.fixture
def closed_dossier(referent):
    """A draft whose call closed yesterday: nothing is editable any more."""
    now = timezone.now()
    appel = AppelFactory(opens_at=now - timedelta(days=30), closes_at=now - timedelta(days=1))
    return CandidatureFactory(appel=appel, createur=referent)


def thread_url(dossier):
    return f"/candidature/{dossier.pk}/messages/"


# ---------------------------------------------------------------------------------------------
# Services


def test_referent_message_notifies_the_team_by_email(
    dossier, referent, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.post_message(
            candidature=dossier, auteur=referent, texte="  Bonjour,\nune question.  "
        )

    assert (message.texte, message.de_l_equipe) == ("Bonjour,\nune question.", False)
    assert [m.to for m in mail.outbox] == [["charge@cerdd.test"]]
    assert f"/admin/candidatures/message/dossier/{dossier.pk}/#message-{message.pk}" in (
        mail.outbox[0].body
    )
    assert "une question" not in mail.outbox[0].body  # the content stays on the site


def test_staff_message_notifies_every_referent(dossier, referent, staff):
    other = UserFactory(email="dgs@arras.test")
    dossier.acces.create(user=other, role="invite")

    message = services.post_message(candidature=dossier, auteur=staff, texte="Bien reçu.")

    assert message.de_l_equipe is True
    assert sorted(Notification.objects.values_list("user__email", "url")) == [
        ("dgs@arras.test", f"/candidature/{dossier.pk}/messages/#message-{message.pk}"),
        ("mairie@arras.test", f"/candidature/{dossier.pk}/messages/#message-{message.pk}"),
    ]


@pytest.mark.parametrize(
    ("texte", "expected"),
    [("   ", "Écrivez votre message."), ("x" * 5001, "Votre message compte 5001 caractères")],
)
def test_empty_or_too_long_message_is_refused(dossier, referent, texte, expected):
    with pytest.raises(ValidationError) as error:
        services.post_message(candidature=dossier, auteur=referent, texte=texte)

    assert error.value.messages[0].startswith(expected)
    assert Message.objects.count() == 0


def test_a_stranger_cannot_write(dossier):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.post_message(candidature=dossier, auteur=UserFactory(), texte="Coucou")


def test_demande_de_complement_lets_the_piece_in_after_the_deadline_only(
    closed_dossier, referent, staff
):
    demande = services.ask_complement(
        candidature=closed_dossier,
        staff_user=staff,
        texte="Merci de joindre la délibération.",
        echeance=timezone.now() + timedelta(days=7),
    )

    answer = services.answer_complement(
        demande=demande, auteur=referent, texte="La voici.", fichier=pdf("deliberation.pdf")
    )

    closed_dossier.refresh_from_db()
    assert closed_dossier.is_editable() is False  # the rest of the dossier stays closed
    assert list(closed_dossier.pieces.values_list("nature", "nom_original")) == [
        (PieceJointe.Nature.COMPLEMENTAIRE, "deliberation.pdf")
    ]
    assert answer.piece == closed_dossier.pieces.get()
    demande.refresh_from_db()
    assert demande.complement_recu_at == answer.created_at
    assert list(closed_dossier.evenements.values_list("nature", "actor__email")) == [
        (Evenement.Nature.DEMANDE_COMPLEMENT, "charge@cerdd.test"),
        (Evenement.Nature.COMPLEMENT, "mairie@arras.test"),
    ]


def test_demande_past_its_echeance_refuses_the_piece(closed_dossier, referent, staff):
    demande = services.ask_complement(
        candidature=closed_dossier,
        staff_user=staff,
        texte="La délibération",
        echeance=timezone.now() + timedelta(days=1),
    )
    Message.objects.filter(pk=demande.pk).update(echeance=timezone.now() - timedelta(minutes=1))
    demande.refresh_from_db()

    with pytest.raises(ValidationError) as error:
        services.answer_complement(demande=demande, auteur=referent, texte="Voici", fichier=pdf())

    assert error.value.code == "closed"
    assert PieceJointe.objects.count() == 0


def test_only_staff_ask_for_a_complement(dossier, referent):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.ask_complement(
            candidature=dossier,
            staff_user=referent,
            texte="x",
            echeance=timezone.now() + timedelta(days=1),
        )


# ---------------------------------------------------------------------------------------------
# Applicant's views


def test_thread_page_shows_messages_escaped_with_line_breaks_and_marks_them_read(
    client, dossier, referent, staff
):
    message = services.post_message(
        candidature=dossier, auteur=staff, texte="<script>alert(1)</script>\nLigne 2"
    )
    client.force_login(referent)

    response = client.get(thread_url(dossier))

    content = response.content.decode()
    assert response.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>Ligne 2" in content
    assert f'id="message-{message.pk}"' in content
    assert Notification.objects.get(user=referent).read_at is not None


def test_post_message_with_attachment_and_download_it(client, dossier, referent, staff):
    client.force_login(referent)

    response = client.post(thread_url(dossier), {"texte": "Voici", "fichier": pdf("plan.pdf")})

    message = Message.objects.get()
    assert response.headers["Location"] == f"{thread_url(dossier)}#message-{message.pk}"
    assert (message.nom_original, message.type_mime) == ("plan.pdf", "application/pdf")
    download = client.get(f"{thread_url(dossier)}{message.pk}/fichier/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF-1.7\nattestation"
    client.force_login(staff)
    assert client.get(f"{thread_url(dossier)}{message.pk}/fichier/").status_code == 200


def test_disguised_file_is_refused_and_the_text_kept(client, dossier, referent):
    client.force_login(referent)

    response = client.post(
        thread_url(dossier),
        {"texte": "Mon texte précieux", "fichier": pdf("faux.pdf", b"MZ\x90\x00binaire")},
    )

    content = page_text(response)
    assert response.status_code == 400
    assert "n'est pas un document PDF" in content
    assert "Mon texte précieux</textarea>" in content
    assert "choisissez à nouveau le fichier" in content
    assert Message.objects.count() == 0


def test_empty_message_is_refused_in_french(client, dossier, referent):
    client.force_login(referent)

    response = client.post(thread_url(dossier), {"texte": "   "})

    assert response.status_code == 400
    assert "Écrivez votre message." in response.content.decode()
    assert Message.objects.count() == 0


def test_answer_to_a_demande_through_the_page(client, closed_dossier, referent, staff):
    demande = services.ask_complement(
        candidature=closed_dossier,
        staff_user=staff,
        texte="La délibération",
        echeance=timezone.now() + timedelta(days=3),
    )
    client.force_login(referent)
    page = client.get(thread_url(closed_dossier)).content.decode()
    assert "Le Cerdd vous demande un complément" in page

    missing = client.post(thread_url(closed_dossier), {"texte": "Voici", "demande": demande.pk})
    assert "Joignez la pièce demandée." in missing.content.decode()

    client.post(
        thread_url(closed_dossier),
        {"texte": "Voici", "demande": demande.pk, "fichier": pdf("delib.pdf")},
    )
    assert list(closed_dossier.pieces.values_list("nom_original", flat=True)) == ["delib.pdf"]


def test_thread_anonymous_goes_to_sign_in(client, dossier):
    response = client.get(thread_url(dossier))

    assert response.headers["Location"] == f"/connexion/?next={thread_url(dossier)}"


def test_thread_of_someone_else_is_a_404(client, dossier, referent, staff):
    message = services.post_message(candidature=dossier, auteur=staff, texte="x", fichier=pdf())
    client.force_login(UserFactory())

    assert client.get(thread_url(dossier)).status_code == 404
    assert client.post(thread_url(dossier), {"texte": "intrus"}).status_code == 404
    assert client.get(f"{thread_url(dossier)}{message.pk}/fichier/").status_code == 404
    assert Message.objects.count() == 1


def test_jurors_never_read_the_thread(client, dossier, staff):
    message = services.post_message(candidature=dossier, auteur=staff, texte="x", fichier=pdf())
    client.force_login(juror())

    assert client.get(f"{thread_url(dossier)}{message.pk}/fichier/").status_code == 404
    assert client.get(f"/admin/candidatures/message/dossier/{dossier.pk}/").status_code == 403


def test_my_data_includes_the_messages(client, dossier, referent, staff):
    services.post_message(candidature=dossier, auteur=staff, texte="Bonjour de l'équipe")
    client.force_login(referent)

    data = json.loads(client.get(f"/candidature/{dossier.pk}/mes-donnees/").content)

    assert [(m["de"], m["texte"]) for m in data["messages"]] == [
        ("équipe du Cerdd", "Bonjour de l'équipe")
    ]


@pytest.mark.parametrize("count", [1, 4])
def test_thread_query_count_does_not_grow(
    client, dossier, referent, staff, count, django_assert_num_queries
):
    for _ in range(count):
        services.post_message(candidature=dossier, auteur=staff, texte="x", fichier=pdf())
    client.force_login(referent)
    client.get("/")  # the session now remembers the menu's cycle check

    # Session, user, dossier, open demandes, thread, notifications read and their counter.
    with django_assert_num_queries(7):
        client.get(thread_url(dossier))


# ---------------------------------------------------------------------------------------------
# Staff page


def test_staff_answer_and_demande_from_the_admin(client, dossier, referent, staff):
    services.post_message(candidature=dossier, auteur=referent, texte="Question")
    client.force_login(staff)
    url = f"/admin/candidatures/message/dossier/{dossier.pk}/"

    assert "Question" in client.get(url).content.decode()
    assert Notification.objects.get(user=staff).read_at is not None
    client.post(url, {"texte": "Réponse"})
    response = client.post(
        url,
        {
            "demande": "1",
            "demande-texte": "La délibération",
            "demande-echeance": "2099-01-31T12:00",
        },
    )

    assert response.status_code == 302
    assert list(dossier.messages.values_list("nature", "texte", "de_l_equipe")) == [
        ("message", "Question", False),
        ("message", "Réponse", True),
        ("demande_complement", "La délibération", True),
    ]


def test_staff_demande_in_the_past_is_refused(client, dossier, staff):
    client.force_login(staff)

    response = client.post(
        f"/admin/candidatures/message/dossier/{dossier.pk}/",
        {
            "demande": "1",
            "demande-texte": "La délibération",
            "demande-echeance": "2001-01-31T12:00",
        },
    )

    assert response.status_code == 400
    assert "L'échéance doit être dans le futur." in page_text(response)
    assert Message.objects.count() == 0
