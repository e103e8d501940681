"""Preparing a dossier (candidatures.dossiers.services): creation, pièces, co-référent·es and
access requests.
"""

import hashlib

import pytest
import time_machine
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from candidatures.dossiers import services, submission
from candidatures.models import AccesCandidature, Candidature, Collectivite, Evenement, PieceJointe
from cerdd_ami.models import User
from tests.candidatures.dossiers.services_helpers import (
    ARRAS_REF_POL,
    ARRAS_REF_TECH,
    BAD_TYPE,
    PNG_BYTES,
    events,
    paris,
    pdf_upload,
)
from tests.candidatures.factories import (
    AppelFactory,
    CandidatureFactory,
    answer_of,
    complete_candidature,
    question_of,
    tiny_pdf_bytes,
)
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# create_candidature


def test_create_candidature_makes_draft_access_and_event(arras):
    appel = AppelFactory()
    user = UserFactory()

    candidature = services.create_candidature(appel=appel, collectivite=arras, user=user)

    candidature.refresh_from_db()
    assert (candidature.appel, candidature.collectivite) == (appel, arras)
    assert (candidature.statut, candidature.numero, candidature.deposee_at) == (
        Candidature.Statut.BROUILLON,
        "",
        None,
    )
    assert list(candidature.acces.values_list("user", "role", "invited_by")) == [
        (user.pk, AccesCandidature.Role.CREATEUR, None)
    ]
    assert events(candidature) == [
        (Evenement.Nature.CREATION, "", Candidature.Statut.BROUILLON, user.pk, "Arras")
    ]


def test_create_candidature_twice_raises_exists_with_the_first(arras):
    appel = AppelFactory()
    first = services.create_candidature(appel=appel, collectivite=arras, user=UserFactory())
    other_user = UserFactory()

    with pytest.raises(services.CandidatureExists) as raised:
        services.create_candidature(appel=appel, collectivite=arras, user=other_user)

    assert raised.value.candidature == first
    assert raised.value.messages == [
        "Arras a déjà un dossier de candidature pour cet appel. Vous pouvez demander à ses "
        "référent·es de vous y inviter."
    ]
    assert isinstance(raised.value, ValidationError)
    assert Candidature.objects.filter(appel=appel).count() == 1
    assert not AccesCandidature.objects.filter(user=other_user).exists()


def test_create_candidature_same_collectivite_other_appel_is_allowed(arras):
    services.create_candidature(appel=AppelFactory(), collectivite=arras, user=UserFactory())

    candidature = services.create_candidature(
        appel=AppelFactory(), collectivite=arras, user=UserFactory()
    )

    assert Candidature.objects.filter(collectivite=arras).count() == 2
    assert candidature.statut == Candidature.Statut.BROUILLON


def test_create_candidature_refuses_interregional_epci_with_the_reason():
    appel = AppelFactory(epci_interregionaux_eligibles=False)
    villes_soeurs = Collectivite.objects.get(siren="247600588")

    with pytest.raises(ValidationError) as raised:
        services.create_candidature(appel=appel, collectivite=villes_soeurs, user=UserFactory())

    assert raised.value.messages == [
        "Cette intercommunalité s'étend hors des Hauts-de-France : elle n'est pas éligible à "
        "cet appel."
    ]
    assert Candidature.objects.count() == 0


def test_create_candidature_accepts_interregional_epci_when_the_appel_does():
    appel = AppelFactory(epci_interregionaux_eligibles=True)
    villes_soeurs = Collectivite.objects.get(siren="247600588")

    candidature = services.create_candidature(
        appel=appel, collectivite=villes_soeurs, user=UserFactory()
    )

    assert candidature.collectivite == villes_soeurs


def test_create_candidature_refuses_a_closed_appel(appel_2021, arras):
    with (
        time_machine.travel(paris(2021, 3, 13, 0, 0, 0), tick=False),
        pytest.raises(ValidationError) as raised,
    ):
        services.create_candidature(appel=appel_2021, collectivite=arras, user=UserFactory())

    assert raised.value.messages == [
        "Cet appel est clos : il n'accepte plus de nouvelle candidature."
    ]
    assert Candidature.objects.count() == 0


def test_create_candidature_refuses_an_appel_not_yet_open(appel_2021, arras):
    with (
        time_machine.travel(paris(2020, 12, 9, 23, 59, 59), tick=False),
        pytest.raises(ValidationError) as raised,
    ):
        services.create_candidature(appel=appel_2021, collectivite=arras, user=UserFactory())

    assert raised.value.messages == [
        "Cet appel n'est pas encore ouvert : les candidatures seront possibles à partir du "
        "10 décembre 2020 à 0 h 00."
    ]


def test_create_candidature_accepts_the_last_second(appel_2021, arras):
    with time_machine.travel(paris(2021, 3, 12, 23, 59, 59), tick=False):
        candidature = services.create_candidature(
            appel=appel_2021, collectivite=arras, user=UserFactory()
        )

    assert candidature.statut == Candidature.Statut.BROUILLON


def test_create_candidature_refuses_an_unpublished_appel(arras):
    with pytest.raises(ValidationError) as raised:
        services.create_candidature(
            appel=AppelFactory(est_publie=False), collectivite=arras, user=UserFactory()
        )

    assert raised.value.messages == [
        "Cet appel n'est pas publié : il n'accepte pas de candidature."
    ]


# ---------------------------------------------------------------------------------------------
# add_piece and delete_piece


def test_add_piece_stores_the_file_and_its_fingerprint():
    candidature = CandidatureFactory()
    user = UserFactory()
    content = tiny_pdf_bytes("Notre lettre")
    upload = SimpleUploadedFile(
        "C:\\Users\\mairie\\Documents\\Lettre de motivation.pdf", content, "application/pdf"
    )

    piece = services.add_piece(
        candidature=candidature,
        user=user,
        question=question_of(candidature.appel_id, "lettre"),
        uploaded_file=upload,
    )

    piece.refresh_from_db()
    assert (piece.nom_original, piece.type_mime, piece.taille, piece.sha256) == (
        "Lettre de motivation.pdf",
        "application/pdf",
        len(content),
        hashlib.sha256(content).hexdigest(),
    )
    assert (piece.candidature, piece.question.code, piece.uploaded_by) == (
        candidature,
        "lettre",
        user,
    )
    assert piece.fichier.name.startswith(f"dossiers/{candidature.appel.slug}/")
    with piece.fichier.open("rb") as handle:
        assert handle.read() == content


def test_add_piece_refuses_a_disguised_file():
    candidature = CandidatureFactory()
    upload = SimpleUploadedFile(
        "lettre.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "application/pdf"
    )

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=upload,
        )

    assert raised.value.messages == [BAD_TYPE]
    assert PieceJointe.objects.count() == 0


def test_add_piece_refuses_an_oversized_file():
    candidature = CandidatureFactory(appel=AppelFactory(taille_max_fichier_mo=1))
    upload = SimpleUploadedFile(
        "lettre.pdf", b"%PDF-1.7\n" + b"0" * (1536 * 1024 - 9), "application/pdf"
    )

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=upload,
        )

    # Django's French filesizeformat says « Mio », with a no-break space.
    assert raised.value.messages == [
        "Le fichier pèse 1,5\u00a0Mio : la limite est de 1,0\u00a0Mio par fichier."
    ]
    assert PieceJointe.objects.count() == 0


def test_add_piece_second_letter_replaces_the_first(on_commit):
    candidature = CandidatureFactory()
    user = UserFactory()
    first = services.add_piece(
        candidature=candidature,
        user=user,
        question=question_of(candidature.appel_id, "lettre"),
        uploaded_file=pdf_upload("premiere.pdf", "Première lettre"),
    )
    storage, first_name = first.fichier.storage, first.fichier.name
    assert storage.exists(first_name)

    with on_commit():
        second = services.add_piece(
            candidature=candidature,
            user=user,
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=pdf_upload("seconde.pdf", "Seconde lettre"),
        )

    assert list(candidature.pieces.values_list("pk", "question__code", "nom_original")) == [
        (second.pk, "lettre", "seconde.pdf")
    ]
    assert not storage.exists(first_name)
    assert storage.exists(second.fichier.name)


def test_add_piece_accepts_images_only_as_supporting_documents():
    candidature = CandidatureFactory()
    user = UserFactory()

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=user,
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=SimpleUploadedFile("lettre.png", PNG_BYTES, "image/png"),
        )
    piece = services.add_piece(
        candidature=candidature,
        user=user,
        question=question_of(candidature.appel_id, "complement"),
        uploaded_file=SimpleUploadedFile("photo-atelier.png", PNG_BYTES, "image/png"),
    )

    assert raised.value.messages == [BAD_TYPE]
    assert list(candidature.pieces.values_list("pk", "question__code", "type_mime")) == [
        (piece.pk, "complement", "image/png")
    ]


def test_add_piece_respects_the_dossier_total():
    candidature = CandidatureFactory(
        appel=AppelFactory(taille_max_fichier_mo=1, taille_max_dossier_mo=2)
    )
    user = UserFactory()
    one_mb = b"%PDF-1.7\n" + b"0" * (1024 * 1024 - 9)

    def add(nature, name, content):
        return services.add_piece(
            candidature=candidature,
            user=user,
            question=question_of(candidature.appel_id, nature),
            uploaded_file=SimpleUploadedFile(name, content, "application/pdf"),
        )

    add(PieceJointe.Nature.LETTRE_MOTIVATION, "lettre.pdf", one_mb)
    add(PieceJointe.Nature.COMPLEMENTAIRE, "annexe-1.pdf", one_mb)
    with pytest.raises(ValidationError) as raised:
        add(PieceJointe.Nature.COMPLEMENTAIRE, "annexe-2.pdf", b"%PDF-1.7\n" + b"0" * 100)
    # Replacing the letter frees its own room first.
    add(PieceJointe.Nature.LETTRE_MOTIVATION, "lettre-v2.pdf", one_mb)

    assert raised.value.messages == [
        "Ce fichier dépasserait la taille totale autorisée pour le dossier (il reste 0\u00a0octet)."
    ]
    assert sorted(candidature.pieces.values_list("nom_original", flat=True)) == [
        "annexe-1.pdf",
        "lettre-v2.pdf",
    ]


def test_add_piece_refused_once_submitted():
    candidature = complete_candidature(appel=AppelFactory())
    submission.submit_candidature(candidature=candidature, user=None)

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "complement"),
            uploaded_file=pdf_upload("annexe.pdf"),
        )

    assert raised.value.messages == ["Ce dossier ne peut plus être modifié."]
    assert candidature.pieces.count() == 1


def test_add_piece_refused_after_the_deadline(appel_2021):
    candidature = CandidatureFactory(appel=appel_2021)

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=pdf_upload(),
        )

    assert raised.value.messages == ["Ce dossier ne peut plus être modifié."]


def test_delete_piece_removes_row_and_file(on_commit):
    candidature = CandidatureFactory()
    piece = services.add_piece(
        candidature=candidature,
        user=UserFactory(),
        question=question_of(candidature.appel_id, "complement"),
        uploaded_file=pdf_upload("annexe.pdf"),
    )
    storage, name = piece.fichier.storage, piece.fichier.name

    with on_commit():
        services.delete_piece(piece=piece, user=UserFactory())

    assert candidature.pieces.count() == 0
    assert not storage.exists(name)


def test_delete_piece_refused_once_submitted(on_commit):
    candidature = complete_candidature(appel=AppelFactory())
    submission.submit_candidature(candidature=candidature, user=None)
    letter = candidature.pieces.get()

    with on_commit(), pytest.raises(ValidationError) as raised:
        services.delete_piece(piece=letter, user=None)

    assert raised.value.messages == ["Ce dossier ne peut plus être modifié."]
    assert candidature.pieces.count() == 1
    assert letter.fichier.storage.exists(letter.fichier.name)


# ---------------------------------------------------------------------------------------------
# invite_coreferent and request_access


def test_invite_coreferent_gives_access_and_mails_a_sign_in_link(on_commit, mailoutbox):
    inviter = UserFactory(first_name="Julien", last_name="Martin")
    candidature = CandidatureFactory(createur=inviter)

    with on_commit():
        access = services.invite_coreferent(
            candidature=candidature, email="  Claire.Dupont@Arras.Exemple.TEST ", invited_by=inviter
        )

    invitee = User.objects.get(email="claire.dupont@arras.exemple.test")
    assert not invitee.has_usable_password()
    assert not invitee.is_staff
    assert (access.candidature, access.user, access.role, access.invited_by) == (
        candidature,
        invitee,
        AccesCandidature.Role.INVITE,
        inviter,
    )
    assert list(
        candidature.acces.order_by("pk").values_list("user__email", "role", "invited_by")
    ) == [
        (inviter.email, "createur", None),
        ("claire.dupont@arras.exemple.test", "invite", inviter.pk),
    ]
    assert events(candidature) == [
        (Evenement.Nature.INVITATION, "", "", inviter.pk, "claire.dupont@arras.exemple.test")
    ]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["claire.dupont@arras.exemple.test"]
    assert message.reply_to == [inviter.email]
    assert message.subject == "Invitation à rejoindre le dossier de candidature d'Arras — Cerdd"
    assert f"Julien Martin ({inviter.email}) vous invite" in message.body
    assert f"{settings.SITE_URL}/connexion/lien/?jeton=" in message.body
    assert f"next=/candidature/{candidature.pk}/" in message.body


def test_invite_coreferent_twice_keeps_one_access_and_sends_again(on_commit, mailoutbox):
    inviter = UserFactory()
    invitee = UserFactory(email="deja.inscrite@exemple.test")
    candidature = CandidatureFactory(createur=inviter)

    with on_commit():
        first = services.invite_coreferent(
            candidature=candidature, email=invitee.email, invited_by=inviter
        )
        second = services.invite_coreferent(
            candidature=candidature, email="Deja.Inscrite@exemple.test", invited_by=inviter
        )

    assert first.pk == second.pk
    assert candidature.acces.filter(user=invitee).count() == 1
    assert User.objects.filter(email__iexact=invitee.email).count() == 1
    assert [m.to for m in mailoutbox] == [[invitee.email], [invitee.email]]


def test_invite_coreferent_refuses_staff(mailoutbox):
    inviter = UserFactory()
    staff = StaffFactory(email="agent@cerdd.test")
    candidature = CandidatureFactory(createur=inviter)

    with pytest.raises(ValidationError) as raised:
        services.invite_coreferent(
            candidature=candidature, email="AGENT@cerdd.test", invited_by=inviter
        )

    assert raised.value.messages == [
        "Cette adresse est celle d'un compte du Cerdd : elle ne peut pas être invitée sur un "
        "dossier de candidature."
    ]
    assert not candidature.acces.filter(user=staff).exists()
    assert mailoutbox == []


def test_invite_coreferent_refuses_an_invalid_address():
    candidature = CandidatureFactory()

    with pytest.raises(ValidationError) as raised:
        services.invite_coreferent(
            candidature=candidature, email="pas-une-adresse", invited_by=UserFactory()
        )

    assert raised.value.messages == ["Saisissez une adresse e-mail valide."]
    assert not User.objects.filter(email="pas-une-adresse").exists()


def test_request_access_mails_the_referents_and_grants_nothing(technicien, on_commit, mailoutbox):
    candidature = complete_candidature(createur=technicien)

    with on_commit():
        services.request_access(candidature=candidature, requester_email="Nouvelle@Exemple.test")

    assert list(candidature.acces.values_list("user", flat=True)) == [technicien.pk]
    assert not User.objects.filter(email__iexact="nouvelle@exemple.test").exists()
    assert events(candidature) == [
        (Evenement.Nature.DEMANDE_ACCES, "", "", None, "nouvelle@exemple.test")
    ]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [ARRAS_REF_POL, ARRAS_REF_TECH]
    assert message.subject == "Demande d'accès au dossier de candidature d'Arras — Cerdd"
    assert "nouvelle@exemple.test souhaite rejoindre le dossier" in message.body
    assert f"{settings.SITE_URL}/candidature/{candidature.pk}/" in message.body
    # Nothing of the dossier travels in this mail: the requester may be anyone.
    assert answer_of(candidature, "motivations").splitlines()[0] not in message.body
