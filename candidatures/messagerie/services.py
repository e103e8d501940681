"""Workflows of the dossier's messagerie: a message (either side), a « demande de complément »
(staff), and the applicant's answer that adds the requested piece after the deadline.

Each function runs in one transaction and notifies the other side through
``cerdd_ami.notifications.services.notify`` (e-mails leave after the commit, by the queue).
"""

import zoneinfo

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from candidatures.dossiers.models import AccesCandidature, Candidature, Evenement, PieceJointe
from cerdd_ami import files, roles
from cerdd_ami.formats import de_nom, format_datetime_fr
from cerdd_ami.notifications.services import notify

from .models import MAX_TEXT_LENGTH, Message

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _is_staff(user) -> bool:
    return bool(user and user.is_active and user.is_staff)


def _clean_text(texte: str) -> str:
    texte = (texte or "").strip()
    if not texte:
        raise ValidationError("Écrivez votre message.", code="text_empty")
    if len(texte) > MAX_TEXT_LENGTH:
        raise ValidationError(
            "Votre message compte %(length)s caractères : la limite est de %(limit)s.",
            code="text_too_long",
            params={"length": len(texte), "limit": MAX_TEXT_LENGTH},
        )
    return texte


def _lock(candidature) -> Candidature:
    return (
        Candidature.objects.select_for_update(of=("self",))
        .select_related("appel", "collectivite")
        .get(pk=candidature.pk)
    )


def _check_author(candidature, auteur) -> bool:
    """True for staff, False for a référent·e of the dossier; refuses anybody else."""
    if _is_staff(auteur):
        return True
    if auteur and AccesCandidature.objects.filter(candidature=candidature, user=auteur).exists():
        return False
    raise PermissionDenied("Vous n'avez pas accès à ce dossier.")


def _attach(message, uploaded_file, *, appel, dossier_id):
    mime = files.validate_upload(
        uploaded_file,
        images_allowed=True,
        max_bytes=appel.max_file_bytes,
        room_bytes=appel.max_file_bytes,
        dossier_id=dossier_id,
    )
    message.nom_original = files.original_name(uploaded_file.name)
    message.type_mime = mime
    message.taille = uploaded_file.size
    message.sha256 = files.sha256_of(uploaded_file)
    message.fichier = uploaded_file


def _save_with_file(row):
    try:
        row.save()
    except Exception:
        # The file is written before the INSERT: don't leave it behind if the row fails.
        if row.fichier.name and row.fichier._committed:
            row.fichier.storage.delete(row.fichier.name)
        raise


def referents(candidature) -> list:
    """The people who hold access to the dossier (they read its thread)."""
    User = get_user_model()
    return list(User.objects.filter(acces_candidatures__candidature=candidature, is_active=True))


def team_recipients(candidature) -> list:
    """Staff told of an applicant's message: those who already wrote in this thread, else
    every active chargé·e de mission."""
    User = get_user_model()
    writers = User.objects.filter(
        is_active=True,
        is_staff=True,
        pk__in=Message.objects.filter(candidature=candidature, de_l_equipe=True).values("auteur"),
    )
    if writers.exists():
        return list(writers)
    return list(
        User.objects.filter(is_active=True, is_staff=True, groups__name=roles.CHARGE_DE_MISSION)
    )


def _notify_other_side(message, candidature):
    collectivite = de_nom(candidature.collectivite.nom)
    if message.de_l_equipe:
        if message.est_demande:
            titre = (
                f"Le Cerdd demande un complément au dossier {collectivite} "
                f"(avant le {format_datetime_fr(message.echeance)})"
            )
        else:
            titre = f"Nouveau message du Cerdd sur le dossier {collectivite}"
        notify(recipients=referents(candidature), titre=titre, url=message.get_absolute_url())
    else:
        notify(
            recipients=team_recipients(candidature),
            titre=f"Nouveau message sur le dossier {collectivite}",
            url=message.staff_url(),
        )


@transaction.atomic
def post_message(*, candidature, auteur, texte, fichier=None) -> Message:
    """Write a message in the dossier's thread, by a référent·e or by staff.

    Refuses (ValidationError, in French) an empty or too long text and a file that fails the
    upload checks (content, size, antivirus); PermissionDenied for anybody else. Side effects:
    a Message (its file stored), and notifications to the other side (``notify``).
    """
    texte = _clean_text(texte)
    locked = _lock(candidature)
    de_l_equipe = _check_author(locked, auteur)
    message = Message(candidature=locked, auteur=auteur, de_l_equipe=de_l_equipe, texte=texte)
    if fichier is not None:
        _attach(message, fichier, appel=locked.appel, dossier_id=locked.pk)
    _save_with_file(message)
    _notify_other_side(message, locked)
    return message


@transaction.atomic
def ask_complement(*, candidature, staff_user, texte, echeance) -> Message:
    """Ask the dossier's référent·es for a missing piece, to be added until ``echeance``.

    Staff only. The applicant may then add that piece (``answer_complement``) even after the
    call's deadline or once the dossier is submitted, without reopening the rest of it.
    Side effects: a Message « demande de complément », an Evenement DEMANDE_COMPLEMENT (logged
    like an extension: who, until when, what), notifications to the référent·es.
    """
    if not _is_staff(staff_user):
        raise PermissionDenied("Seule l'équipe du Cerdd peut demander un complément.")
    texte = _clean_text(texte)
    if timezone.is_naive(echeance):
        echeance = timezone.make_aware(echeance, PARIS)
    if echeance <= timezone.now():
        raise ValidationError("L'échéance doit être dans le futur.", code="past")
    locked = _lock(candidature)
    message = Message.objects.create(
        candidature=locked,
        auteur=staff_user,
        de_l_equipe=True,
        nature=Message.Nature.DEMANDE_COMPLEMENT,
        texte=texte,
        echeance=echeance,
    )
    Evenement.objects.create(
        candidature=locked,
        nature=Evenement.Nature.DEMANDE_COMPLEMENT,
        actor=staff_user,
        detail=f"jusqu'au {format_datetime_fr(echeance)} — {texte[:300]}",
    )
    _notify_other_side(message, locked)
    return message


@transaction.atomic
def answer_complement(*, demande, auteur, texte, fichier) -> Message:
    """A référent·e answers a « demande de complément » with the requested file.

    The file is checked as any piece (content, size, the dossier's total, antivirus) and added
    to the dossier as a « document complémentaire », whatever the dossier's state, as long as
    the demande's échéance has not passed; nothing else of the dossier becomes editable.
    Side effects: a PieceJointe, a Message linking it (``demande``), ``complement_recu_at`` on
    the demande (first answer), an Evenement COMPLEMENT, notifications to the team.
    """
    texte = _clean_text(texte)
    locked = _lock(demande.candidature)
    if _check_author(locked, auteur):
        raise PermissionDenied("Le complément est ajouté par les référent·es du dossier.")
    demande = Message.objects.select_for_update().get(pk=demande.pk, candidature=locked)
    now = timezone.now()
    if not demande.is_open(now):
        raise ValidationError(
            "L'échéance de cette demande de complément est passée : écrivez au Cerdd.",
            code="closed",
        )
    if fichier is None:
        raise ValidationError("Joignez la pièce demandée.", code="file_required")
    appel = locked.appel
    used = locked.pieces.aggregate(total=Sum("taille"))["total"] or 0
    mime = files.validate_upload(
        fichier,
        images_allowed=True,
        max_bytes=appel.max_file_bytes,
        room_bytes=appel.max_dossier_bytes - used,
        dossier_id=locked.pk,
    )
    piece = PieceJointe(
        candidature=locked,
        nature=PieceJointe.Nature.COMPLEMENTAIRE,
        nom_original=files.original_name(fichier.name),
        type_mime=mime,
        taille=fichier.size,
        sha256=files.sha256_of(fichier),
        uploaded_by=auteur,
    )
    piece.fichier = fichier
    _save_with_file(piece)
    message = Message.objects.create(
        candidature=locked,
        auteur=auteur,
        texte=texte,
        demande=demande,
        piece=piece,
        created_at=now,
    )
    if demande.complement_recu_at is None:
        demande.complement_recu_at = now
        demande.save(update_fields=["complement_recu_at"])
    Evenement.objects.create(
        candidature=locked,
        nature=Evenement.Nature.COMPLEMENT,
        actor=auteur,
        detail=f"{piece.nom_original} (demande du {format_datetime_fr(demande.created_at)})",
    )
    _notify_other_side(message, locked)
    return message


def export_messages(candidature) -> tuple[str, list]:
    """The thread, for « mes données » (``candidatures.dossiers.hooks``)."""
    return "messages", [
        {
            "date": message.created_at,
            "nature": message.get_nature_display(),
            "de": "équipe du Cerdd"
            if message.de_l_equipe
            else getattr(message.auteur, "email", ""),
            "texte": message.texte,
            "echeance": message.echeance,
            "fichier": message.attachment_name(),
        }
        for message in candidature.messages.select_related("auteur", "piece")
    ]
