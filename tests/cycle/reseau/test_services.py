"""The network's workflows: the directory opt-in (own rows only, dated, revocable),
discussions and replies (checks, withdrawn participation, files), following and the e-mails
to followers (once each), the team's moderation."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from cerdd_ami.permissions import sync_role_permissions
from cycle.models import (
    Abonnement,
    ConsentementAnnuaire,
    Discussion,
    EnvoiMessageReseau,
    MembreBinome,
    Message,
    Participant,
)
from cycle.reseau import services
from cycle.reseau.notifications import FollowersNotNotified, notify_followers
from tests.cycle.reseau.conftest import pdf_upload
from tests.factories import StaffFactory, UserFactory, charge_de_mission
from tests.utils import FLAKY_MAILERS, FlakyBackend

pytestmark = pytest.mark.django_db


@pytest.fixture
def charge():
    sync_role_permissions()
    return charge_de_mission()


def withdraw(participant):
    Participant.objects.filter(pk=participant.pk).update(
        statut=Participant.Statut.RETIRE, retire_at=timezone.now()
    )
    participant.refresh_from_db()


# Directory -----------------------------------------------------------------------------------


def test_opt_in_records_the_persons_own_consent_with_its_date(participant, claire):
    before = timezone.now()
    assert services.opt_in(participant=participant, user=claire) == 1
    consent = ConsentementAnnuaire.objects.get()
    elu = participant.membres.get(role=MembreBinome.Role.ELU)
    assert (consent.membre, consent.user, consent.revoque_at) == (elu, claire, None)
    assert consent.consenti_at >= before
    # Twice: still one active consent.
    assert services.opt_in(participant=participant, user=claire) == 0
    assert ConsentementAnnuaire.objects.count() == 1


def test_revoking_keeps_the_record_and_a_new_opt_in_is_a_new_row(participant, claire):
    services.opt_in(participant=participant, user=claire)
    assert services.revoke_opt_in(participant=participant, user=claire) == 1
    first = ConsentementAnnuaire.objects.get()
    assert first.revoque_at is not None
    assert ConsentementAnnuaire.objects.actifs().count() == 0
    services.opt_in(participant=participant, user=claire)
    assert ConsentementAnnuaire.objects.count() == 2
    assert ConsentementAnnuaire.objects.actifs().get().pk != first.pk


def test_opt_in_only_for_a_binome_member_of_the_participation(participant, autre_participant, marc):
    with pytest.raises(PermissionDenied):
        services.opt_in(participant=participant, user=marc)
    # A référent·e of the dossier who is in no binôme has nothing to show.
    referent = UserFactory(email="dgs@arras.test")
    participant.candidature.acces.create(user=referent, role="coreferent")
    with pytest.raises(ValidationError) as error:
        services.opt_in(participant=participant, user=referent)
    assert error.value.messages == [services.NOT_A_MEMBER]
    assert not ConsentementAnnuaire.objects.exists()


def test_withdrawn_participation_cannot_opt_in_but_can_revoke(participant, claire):
    services.opt_in(participant=participant, user=claire)
    withdraw(participant)
    with pytest.raises(ValidationError):
        services.opt_in(participant=participant, user=claire)
    assert services.revoke_opt_in(participant=participant, user=claire) == 1


# Discussions ---------------------------------------------------------------------------------


def start(participant, user, **kwargs):
    values = {"titre": "Mobiliser les jeunes", "texte": "Comment faites-vous ?"} | kwargs
    return services.start_discussion(participant=participant, auteur=user, **values)


def test_start_discussion_writes_the_first_message_and_follows_it(participant, claire, cycle):
    seance = cycle.seances.get(numero=2)
    discussion = start(participant, claire, theme="alliances", seance=seance)
    assert (discussion.cycle, discussion.seance, discussion.theme) == (cycle, seance, "alliances")
    message = discussion.messages.get()
    elu = participant.membres.get(role=MembreBinome.Role.ELU)
    # Signed with the binôme row's name, never the address.
    assert (message.texte, message.auteur, message.auteur_nom) == (
        "Comment faites-vous ?",
        claire,
        elu.nom,
    )
    assert list(Abonnement.objects.values_list("user", flat=True)) == [claire.pk]


def test_start_discussion_refuses_empty_long_and_foreign_input(
    participant, claire, participant_ailleurs
):
    with pytest.raises(ValidationError) as error:
        start(
            participant,
            claire,
            titre="  ",
            texte=" \n ",
            theme="inconnu",
            seance=participant_ailleurs.cycle.seances.first(),
        )
    assert error.value.message_dict == {
        "titre": [services.EMPTY_TITLE],
        "texte": [services.EMPTY_MESSAGE],
        "theme": ["Choisissez un thème de la liste."],
        "seance": ["Cette séance n'appartient pas au cycle de votre collectivité."],
    }
    with pytest.raises(ValidationError) as error:
        start(participant, claire, texte="x" * 5001)
    assert error.value.message_dict == {
        "texte": [
            "Votre message compte 5001 caractères : la limite est de 5000. Raccourcissez-le ou "
            "partagez un document en pièce jointe."
        ]
    }
    assert not Discussion.objects.exists()


def test_post_message_refuses_strangers_other_cycles_and_withdrawn(
    participant, claire, autre_participant, marc, participant_ailleurs, zoe
):
    discussion = start(participant, claire)
    with pytest.raises(PermissionDenied):
        services.post_message(
            discussion=discussion, participant=participant, auteur=marc, texte="Bonjour"
        )
    with pytest.raises(PermissionDenied):
        services.post_message(
            discussion=discussion, participant=participant_ailleurs, auteur=zoe, texte="Bonjour"
        )
    withdraw(autre_participant)
    with pytest.raises(ValidationError) as error:
        services.post_message(
            discussion=discussion, participant=autre_participant, auteur=marc, texte="Bonjour"
        )
    assert error.value.messages == [services.WITHDRAWN]
    assert discussion.messages.count() == 1


def test_attachment_is_checked_by_content_and_stored(participant, claire):
    discussion = start(participant, claire, uploaded_file=pdf_upload())
    message = discussion.messages.get()
    assert (message.nom_original, message.type_mime) == ("compte-rendu.pdf", "application/pdf")
    with message.fichier.open("rb") as handle:
        assert handle.read(5) == b"%PDF-"
    disguised = SimpleUploadedFile("photo.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")
    with pytest.raises(ValidationError) as error:
        services.post_message(
            discussion=discussion,
            participant=participant,
            auteur=claire,
            texte="Voici le fichier",
            uploaded_file=disguised,
        )
    assert error.value.message_dict == {
        "fichier": [
            "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, PNG, JPEG, "
            "quel que soit son nom."
        ]
    }
    assert discussion.messages.count() == 1


# Followers -----------------------------------------------------------------------------------


def test_a_reply_mails_each_other_follower_once(
    participant, claire, autre_participant, marc, mailoutbox, django_capture_on_commit_callbacks
):
    discussion = start(participant, claire)
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.post_message(
            discussion=discussion,
            participant=autre_participant,
            auteur=marc,
            texte="Nous avons un conseil <b>des jeunes</b>.\nOn en parle ?",
        )
    # Claire follows (she opened it); Marc wrote it and is not told of his own message.
    assert [m.to for m in mailoutbox] == [["claire@arras.test"]]
    mail = mailoutbox[0]
    assert mail.subject == "Nouveau message dans la discussion « Mobiliser les jeunes »"
    assert "Nous avons un conseil <b>des jeunes</b>." in mail.body
    html = mail.alternatives[0][0]
    assert "conseil &lt;b&gt;des jeunes&lt;/b&gt;.<br>On en parle ?" in html
    assert f"/cycle/{participant.pk}/reseau/discussions/{discussion.pk}/#message-{reply.pk}" in (
        mail.body
    )
    assert Abonnement.objects.filter(discussion=discussion).count() == 2
    # The worker running the task again sends nothing again.
    assert notify_followers.call(message_id=reply.pk) == 0
    assert len(mailoutbox) == 1
    assert list(EnvoiMessageReseau.objects.values_list("destinataire", "statut")) == [
        ("claire@arras.test", "envoye")
    ]


def test_followers_who_stopped_or_withdrew_get_nothing(
    participant, claire, autre_participant, marc, mailoutbox, django_capture_on_commit_callbacks
):
    discussion = start(participant, claire)
    services.set_following(
        discussion=discussion, participant=participant, user=claire, follow=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(
            discussion=discussion, participant=autre_participant, auteur=marc, texte="Bonjour"
        )
    assert mailoutbox == []
    services.set_following(discussion=discussion, participant=participant, user=claire, follow=True)
    withdraw(participant)
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(
            discussion=discussion, participant=autre_participant, auteur=marc, texte="Encore"
        )
    assert mailoutbox == []


def test_a_failed_email_is_recorded_then_sent_once_by_the_retry(
    participant,
    claire,
    autre_participant,
    marc,
    mailoutbox,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    discussion = start(participant, claire)
    settings.MAILERS = FLAKY_MAILERS
    monkeypatch.setattr(FlakyBackend, "refused", frozenset({"claire@arras.test"}))
    with django_capture_on_commit_callbacks(execute=True):
        reply = services.post_message(
            discussion=discussion, participant=autre_participant, auteur=marc, texte="Oui"
        )
    envoi = EnvoiMessageReseau.objects.get()
    assert (envoi.statut, envoi.tentatives) == ("echec", 1)
    assert mailoutbox == []
    # The task raises so that the worker retries it.
    with pytest.raises(FollowersNotNotified):
        notify_followers.call(message_id=reply.pk)
    monkeypatch.setattr(FlakyBackend, "refused", frozenset())
    assert notify_followers.call(message_id=reply.pk) == 1
    assert notify_followers.call(message_id=reply.pk) == 0
    assert len(mailoutbox) == 1
    envoi.refresh_from_db()
    assert (envoi.statut, envoi.tentatives) == ("envoye", 3)


# Moderation ----------------------------------------------------------------------------------


def test_hide_message_logs_it_and_tells_the_author(
    participant, claire, charge, mailoutbox, django_capture_on_commit_callbacks
):
    message = start(participant, claire, texte="Un propos déplacé").messages.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.hide_message(message=message, staff_user=charge, motif="Propos injurieux")
    message.refresh_from_db()
    assert (message.masque_par, message.masque_motif) == (charge, "Propos injurieux")
    assert message.masque_at is not None
    record = message.history.first()
    assert (record.history_user, record.history_change_reason) == (
        charge,
        "Masqué : Propos injurieux",
    )
    assert [m.to for m in mailoutbox] == [["claire@arras.test"]]
    assert mailoutbox[0].subject == (
        "Votre message dans la discussion « Mobiliser les jeunes » a été masqué"
    )
    assert "Propos injurieux" in mailoutbox[0].body
    with pytest.raises(ValidationError):
        services.hide_message(message=message, staff_user=charge, motif="Encore")
    assert len(mailoutbox) == 1


def test_hide_message_needs_staff_with_permission_and_a_reason(participant, claire, charge):
    message = start(participant, claire).messages.get()
    for user in (claire, StaffFactory()):
        with pytest.raises(PermissionDenied):
            services.hide_message(message=message, staff_user=user, motif="Hors sujet")
    with pytest.raises(ValidationError) as error:
        services.hide_message(message=message, staff_user=charge, motif=" ")
    assert error.value.message_dict == {
        "motif": ["Indiquez le motif : son auteur·rice le recevra."]
    }
    assert Message.objects.get().masque_at is None
