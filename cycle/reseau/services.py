"""Workflows of the participants' network: the directory opt-in, discussions and messages,
following a discussion, and the team's moderation.

Same rules as the other sub-packages: keyword-only arguments, one transaction each, the only
way the change they make happens; views and the admin call these. E-mails leave after the
commit: the author of a hidden message at once; the followers of a discussion are told of a
new message through ``cerdd_ami.notifications.services.notify`` (each person's choice: an
e-mail at once, the daily digest, or nothing; sent by the task queue, never twice).
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cerdd_ami import files
from cerdd_ami.emails import build_email, send_on_commit, site_url
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.notifications.services import notify, withdraw
from cycle.participants.models import MembreBinome, Participant
from cycle.reseau.models import Abonnement, ConsentementAnnuaire, Discussion, MessageReseau
from cycle.sondage.models import THEMES_APPEL

MAX_MESSAGE_LENGTH = 5000
MAX_TITLE_LENGTH = 200
HISTORY_REASON_LENGTH = 100

WITHDRAWN = (
    "Votre collectivité s'est retirée du cycle : vous pouvez lire les discussions du réseau, "
    "mais plus y écrire."
)
EMPTY_MESSAGE = "Écrivez votre message."
LONG_MESSAGE = (
    "Votre message compte %(length)s caractères : la limite est de %(limit)s. "
    "Raccourcissez-le ou partagez un document en pièce jointe."
)
EMPTY_TITLE = "Donnez un titre à la discussion."
NOT_A_MEMBER = (
    "Seules les personnes des binômes figurent dans l'annuaire : vous n'êtes membre d'aucun "
    "binôme de cette collectivité."
)


# ---------------------------------------------------------------------------------------------
# Who is who


def _member_q(user) -> Q:
    """A binôme row is this person's: linked to their account, or with their e-mail address
    (a member added before their account existed)."""
    condition = Q(user=user)
    if user.email:
        condition |= Q(email__iexact=user.email)
    return condition


def own_members(participant, user):
    """``user``'s binôme rows in ``participant`` (usually one)."""
    if not user.is_authenticated:
        return MembreBinome.objects.none()
    return MembreBinome.objects.filter(_member_q(user), participant=participant)


def display_name(participant, user) -> str:
    """The name someone signs their messages with: their binôme row's, else the référent·e's
    name in the dossier, else their account's; never their e-mail address."""
    member = own_members(participant, user).order_by("-titulaire", "pk").first()
    if member is not None:
        return member.nom
    candidature = participant.candidature
    email = (user.email or "").lower()
    for prefix in ("ref_pol", "ref_tech"):
        if email and getattr(candidature, f"{prefix}_email").strip().lower() == email:
            nom = getattr(candidature, f"{prefix}_nom").strip()
            if nom:
                return nom
    return user.get_full_name() or f"Référent·e de {candidature.collectivite.nom}"


def _check_participation(participant, user) -> Participant:
    """The participation, locked, when ``user`` belongs to it (PermissionDenied otherwise)."""
    pk = (
        Participant.objects.of_user(user)
        .filter(pk=participant.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise PermissionDenied("Vous ne faites pas partie de cette collectivité participante.")
    return Participant.objects.select_for_update().select_related("cycle__appel").get(pk=pk)


def _check_writer(participant, user) -> Participant:
    locked = _check_participation(participant, user)
    if locked.statut == Participant.Statut.RETIRE:
        raise ValidationError(WITHDRAWN, code="withdrawn")
    return locked


# ---------------------------------------------------------------------------------------------
# The directory


@transaction.atomic
def opt_in(*, participant, user) -> int:
    """``user`` agrees to show their e-mail and phone to the cycle's participants.

    Only for oneself: the consent covers ``user``'s own binôme rows in ``participant``.
    Refused: someone outside the participation (PermissionDenied), a withdrawn participation,
    somebody with no binôme row (ValidationError, in French).
    Side effects: one ConsentementAnnuaire (consenti_at = now, user = ``user``) per own row
    that has no active one; returns how many were created. No e-mail.
    """
    locked = _check_writer(participant, user)
    members = list(own_members(locked, user).select_for_update())
    if not members:
        raise ValidationError(NOT_A_MEMBER, code="not_a_member")
    active = set(
        ConsentementAnnuaire.objects.actifs()
        .filter(membre__in=members)
        .values_list("membre_id", flat=True)
    )
    now = timezone.now()
    created = ConsentementAnnuaire.objects.bulk_create(
        ConsentementAnnuaire(membre=member, user=user, consenti_at=now)
        for member in members
        if member.pk not in active
    )
    return len(created)


@transaction.atomic
def revoke_opt_in(*, participant, user) -> int:
    """``user`` withdraws their consent: their e-mail and phone leave the directory at once.

    Allowed to anyone of the participation, withdrawn or not (PermissionDenied otherwise).
    Side effects: ``revoque_at`` = now on ``user``'s active consents in ``participant`` (rows
    kept as the record of the consent); returns how many. No e-mail.
    """
    locked = _check_participation(participant, user)
    return (
        ConsentementAnnuaire.objects.actifs()
        .filter(membre__in=own_members(locked, user))
        .update(revoque_at=timezone.now())
    )


# ---------------------------------------------------------------------------------------------
# Discussions and messages


def clean_text(texte) -> str:
    texte = (texte or "").strip()
    if not texte:
        raise ValidationError({"texte": [EMPTY_MESSAGE]}, code="empty")
    if len(texte) > MAX_MESSAGE_LENGTH:
        raise ValidationError(
            {
                "texte": [
                    ValidationError(
                        LONG_MESSAGE,
                        code="too_long",
                        params={"length": len(texte), "limit": MAX_MESSAGE_LENGTH},
                    )
                ]
            }
        )
    return texte


def _attach(message: MessageReseau, uploaded_file, appel) -> None:
    """Check ``uploaded_file`` as a dossier's pieces are (content, size, antivirus) and put
    it on ``message`` (not saved yet)."""
    try:
        mime = files.validate_upload(
            uploaded_file,
            images_allowed=True,
            max_bytes=appel.max_file_bytes,
            room_bytes=appel.max_file_bytes,
        )
    except ValidationError as error:
        raise ValidationError({"fichier": error.messages}) from None
    message.nom_original = files.original_name(uploaded_file.name)
    message.type_mime = mime
    message.taille = uploaded_file.size
    message.sha256 = files.sha256_of(uploaded_file)
    message.fichier = uploaded_file


def _save_message(message: MessageReseau) -> None:
    try:
        message.save()
    except Exception:
        # The file is written before the INSERT: don't leave it behind if the row fails.
        if message.fichier.name and message.fichier._committed:
            message.fichier.storage.delete(message.fichier.name)
        raise


def _follow(discussion, user) -> None:
    Abonnement.objects.get_or_create(discussion=discussion, user=user)


@transaction.atomic
def start_discussion(
    *, participant, auteur, titre, texte, theme="", seance=None, uploaded_file=None
) -> Discussion:
    """Open a discussion in the participant's cycle with its first message.

    Refused: someone outside the participation (PermissionDenied); a withdrawn participation,
    an empty title, an empty or too long message, an unknown theme, a séance of another cycle,
    a file refused by ``cerdd_ami.files.validate_upload`` (ValidationError per field, French).
    Side effects: one Discussion, its first MessageReseau (with the file stored, when given), and
    the author follows it (Abonnement). Nobody else follows it yet: no e-mail.
    """
    locked = _check_writer(participant, auteur)
    errors = {}
    titre = (titre or "").strip()
    if not titre:
        errors["titre"] = [EMPTY_TITLE]
    elif len(titre) > MAX_TITLE_LENGTH:
        errors["titre"] = [f"Le titre compte au plus {MAX_TITLE_LENGTH} caractères."]
    if theme and theme not in dict(THEMES_APPEL):
        errors["theme"] = ["Choisissez un thème de la liste."]
    if seance is not None and seance.cycle_id != locked.cycle_id:
        errors["seance"] = ["Cette séance n'appartient pas au cycle de votre collectivité."]
    try:
        texte = clean_text(texte)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    nom = display_name(locked, auteur)
    discussion = Discussion.objects.create(
        cycle_id=locked.cycle_id,
        titre=titre,
        theme=theme or "",
        seance=seance,
        auteur=auteur,
        participant=locked,
        auteur_nom=nom,
    )
    message = MessageReseau(
        discussion=discussion, auteur=auteur, participant=locked, auteur_nom=nom, texte=texte
    )
    if uploaded_file:
        _attach(message, uploaded_file, locked.cycle.appel)
    message._history_user = auteur
    _save_message(message)
    _follow(discussion, auteur)
    return discussion


@transaction.atomic
def post_message(*, discussion, participant, auteur, texte, uploaded_file=None) -> MessageReseau:
    """Reply in ``discussion`` for ``participant``.

    Refused: someone outside the participation, a discussion of another cycle
    (PermissionDenied); a withdrawn participation, an empty or too long message, a refused
    file (ValidationError, French).
    Side effects: one MessageReseau (file stored when given); the author follows the discussion;
    a notification to every other follower still in the cycle (``notify_followers``).
    """
    locked = _check_writer(participant, auteur)
    if discussion.cycle_id != locked.cycle_id:
        raise PermissionDenied("Cette discussion n'est pas celle de votre cycle.")
    texte = clean_text(texte)
    message = MessageReseau(
        discussion=discussion,
        auteur=auteur,
        participant=locked,
        auteur_nom=display_name(locked, auteur),
        texte=texte,
    )
    if uploaded_file:
        _attach(message, uploaded_file, locked.cycle.appel)
    message._history_user = auteur
    _save_message(message)
    _follow(discussion, auteur)
    notify_followers(message=message, participant=locked)
    return message


def followers(message: MessageReseau) -> dict[int, list]:
    """The followers to tell about ``message``, by the participation whose pages they read it
    in: active accounts with an address, still in an active participation of the cycle,
    except its author."""
    User = get_user_model()
    users = list(
        User.objects.filter(abonnements_reseau__discussion_id=message.discussion_id, is_active=True)
        .exclude(pk=message.auteur_id)
        .exclude(email="")
        .order_by("pk")
    )
    participations = (
        Participant.objects.filter(cycle_id=message.discussion.cycle_id).actifs().by_user(users)
    )
    by_participation: dict[int, list] = {}
    for user in users:
        if participations[user.pk]:
            by_participation.setdefault(participations[user.pk][0], []).append(user)
    return by_participation


def notify_followers(*, message: MessageReseau, participant: Participant) -> None:
    """Tell the other followers of ``message``'s discussion (``followers``) that it was
    written by someone of ``participant``.

    Side effects, in the caller's transaction: ``notify`` for each participation's followers,
    with a link to the message in their own participation's pages; the e-mails (or the digest)
    follow each person's choice, after the commit, never twice. The e-mail names the author
    and the discussion, never the message's text.
    """
    discussion = message.discussion
    titre = (
        f"Nouveau message de {message.auteur_nom} ({participant.candidature.collectivite.nom}) "
        f"dans la discussion « {discussion.titre} »"
    )
    for participation_id, users in followers(message).items():
        path = reverse("cycle:discussion", args=[participation_id, discussion.pk])
        notify(
            recipients=users,
            titre=titre,
            url=f"{path}#message-{message.pk}",
            template="message_reseau",
        )


@transaction.atomic
def set_following(*, discussion, participant, user, follow: bool) -> bool:
    """Follow (or stop following) a discussion of one's cycle; returns the new state.

    Refused: someone outside the participation or a discussion of another cycle
    (PermissionDenied). A withdrawn participant may stop following, not start.
    Side effects: one Abonnement created or deleted. No e-mail.
    """
    locked = _check_participation(participant, user)
    if discussion.cycle_id != locked.cycle_id:
        raise PermissionDenied("Cette discussion n'est pas celle de votre cycle.")
    if follow:
        if locked.statut == Participant.Statut.RETIRE:
            raise ValidationError(WITHDRAWN, code="withdrawn")
        _follow(discussion, user)
    else:
        Abonnement.objects.filter(discussion=discussion, user=user).delete()
    return follow


# ---------------------------------------------------------------------------------------------
# Moderation


@transaction.atomic
def hide_message(*, message, staff_user, motif) -> MessageReseau:
    """The team hides a message: participants read « message masqué par l'équipe » instead,
    and its file can no longer be downloaded.

    Staff with the permission ``cycle.change_messagereseau`` only (PermissionDenied otherwise); a
    reason is required and a message already hidden stays as it is (ValidationError).
    Side effects: masque_at, masque_par, masque_motif set, one history record (history_user
    = ``staff_user``, reason « Masqué : <motif> »); the followers' notifications of it not yet
    read nor e-mailed withdrawn (no digest line, ``notifications.services.withdraw``); after
    commit, one e-mail « message_masque » to its author with the reason (reply-to: the call's
    contact address).
    """
    if not (staff_user.is_active and staff_user.is_staff):
        raise PermissionDenied("Seule l'équipe du Cerdd modère les discussions.")
    if not staff_user.has_perm("cycle.change_messagereseau"):
        raise PermissionDenied("Vous n'avez pas le droit de modérer les discussions.")
    motif = (motif or "").strip()
    if not motif:
        raise ValidationError({"motif": ["Indiquez le motif : son auteur·rice le recevra."]})
    locked = (
        MessageReseau.objects.select_for_update(of=("self",))
        .select_related("discussion__cycle__appel", "auteur")
        .get(pk=message.pk)
    )
    if locked.masque:
        raise ValidationError(
            f"Ce message est déjà masqué (le {format_datetime_fr(locked.masque_at)}).",
            code="already_hidden",
        )
    locked.masque_at = timezone.now()
    locked.masque_par = staff_user
    locked.masque_motif = motif
    locked._history_user = staff_user
    locked._change_reason = f"Masqué : {motif}"[:HISTORY_REASON_LENGTH]
    locked.save(update_fields=["masque_at", "masque_par", "masque_motif"])
    withdraw(template="message_reseau", anchor=f"message-{locked.pk}")
    _notify_hidden(locked)
    return locked


def _notify_hidden(message: MessageReseau) -> None:
    if message.auteur is None or not message.auteur.email:
        return
    discussion = message.discussion
    appel = discussion.cycle.appel
    path = reverse("cycle:discussion", args=[message.participant_id, discussion.pk])
    context = {
        "auteur_nom": message.auteur_nom,
        "discussion": discussion.titre,
        "cycle_titre": discussion.cycle.titre,
        "ecrit_le": format_datetime_fr(message.created_at),
        "texte": message.texte,
        "motif": message.masque_motif,
        "contact_email": appel.contact_email,
        "discussion_url": site_url(f"{path}#message-{message.pk}"),
    }
    send_on_commit(
        build_email(
            "message_masque", context, to=[message.auteur.email], reply_to=[appel.contact_email]
        )
    )
