"""Workflows of the participants: enrolment, binôme confirmation, withdrawal.

Same rules as ``candidatures.dossiers.services``: keyword-only arguments, one transaction each,
the only way the status change they make happens; views, admin actions and commands all call
these.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from candidatures.models import Decision, Issue
from cerdd_ami.emails import build_email, send_on_commit, site_url
from cerdd_ami.formats import format_datetime_fr
from cycle.participants.models import MembreBinome, Participant
from cycle.seances.models import Cycle

HISTORY_REASON_LENGTH = 100  # HistoricalDecision.history_change_reason


def _users_by_email(emails) -> dict:
    emails = {email.lower() for email in emails if email}
    if not emails:
        return {}
    User = get_user_model()
    return {user.email.lower(): user for user in User.objects.filter(email__in=emails)}


def members_from_referents(candidature) -> list[dict]:
    """The binôme a dossier proposes: its élu·e and technicien·ne référent·es, as titulaires."""
    members = []
    for role, prefix in (
        (MembreBinome.Role.ELU, "ref_pol"),
        (MembreBinome.Role.TECHNICIEN, "ref_tech"),
    ):
        nom = getattr(candidature, f"{prefix}_nom").strip()
        email = getattr(candidature, f"{prefix}_email").strip().lower()
        if nom and email:
            members.append(
                {
                    "role": role,
                    "titulaire": True,
                    "nom": nom,
                    "fonction": getattr(candidature, f"{prefix}_fonction").strip(),
                    "email": email,
                    "telephone": getattr(candidature, f"{prefix}_telephone").strip(),
                }
            )
    return members


@transaction.atomic
def enrol_retained(*, cycle, staff_user=None) -> int:
    """Make a Participant of every collectivité retained by the call; return how many are new.

    Counted: dossiers of the cycle's call whose Decision is « retenue », published, and without
    a recorded withdrawal. Staged (unpublished) decisions, the waiting list and « non retenue »
    never count. Idempotent: a dossier that already has a participation is skipped.
    Side effects: one Participant (« à confirmer ») per new dossier and its binôme prefilled
    with the two référent·es as titulaires, each linked to the User of that e-mail if there is
    one. No e-mail. ``staff_user``, when given, must be staff.
    """
    if staff_user is not None and not (staff_user.is_active and staff_user.is_staff):
        raise PermissionDenied("Seule l'équipe du Cerdd peut inscrire les participants.")
    decisions = (
        Decision.objects.published()
        .filter(
            candidature__appel_id=cycle.appel_id,
            issue=Issue.RETENUE,
            desistement_at__isnull=True,
            candidature__participation__isnull=True,
        )
        .select_related("candidature")
        .order_by("candidature__pk")
    )
    candidatures = [decision.candidature for decision in decisions]
    proposed = {c.pk: members_from_referents(c) for c in candidatures}
    users = _users_by_email(m["email"] for members in proposed.values() for m in members)
    for candidature in candidatures:
        participant = Participant.objects.create(cycle=cycle, candidature=candidature)
        MembreBinome.objects.bulk_create(
            MembreBinome(participant=participant, user=users.get(m["email"]), **m)
            for m in proposed[candidature.pk]
        )
    return len(candidatures)


# The cycle side of the decisions hook (``candidatures.decisions.hooks``): ``cycle.apps``
# registers these two, so that candidatures never imports the cycle.


@transaction.atomic
def enrol_on_publication(*, appel, staff_user) -> int:
    """The call's decisions are public: its retained collectivités join its cycle, if any.

    Returns how many joined (0 when the call has no cycle yet: creating the cycle enrols them).
    Side effects: those of ``enrol_retained``. Idempotent, as publication runs again at will.
    """
    cycle = Cycle.objects.filter(appel=appel).first()
    if cycle is None:
        return 0
    return enrol_retained(cycle=cycle, staff_user=staff_user)


@transaction.atomic
def retire_on_withdrawal(*, candidature, now) -> None:
    """Staff recorded the withdrawal of a retained collectivité: its participation, when there
    is one and it is not already « retiré », becomes « retiré » with ``retire_at`` = ``now``.

    Runs inside the caller's transaction (the decision row locked); the participant row is
    locked too. No e-mail: the withdrawal was told to staff, not by the platform.
    """
    participant = (
        Participant.objects.select_for_update()
        .filter(candidature_id=candidature.pk)
        .exclude(statut=Participant.Statut.RETIRE)
        .first()
    )
    if participant is not None:
        participant.statut = Participant.Statut.RETIRE
        participant.retire_at = now
        participant.save(update_fields=["statut", "retire_at"])


def _check_member_of(participant, user) -> Participant:
    # Lock the row: two référent·es confirming at once must not interleave their binômes.
    locked = (
        Participant.objects.of_user(user)
        .filter(pk=participant.pk)
        .values_list("pk", flat=True)
        .first()
    )
    if locked is None:
        raise PermissionDenied("Vous ne faites pas partie de cette collectivité participante.")
    return Participant.objects.select_for_update().get(pk=locked)


BINOME_FIELDS = ("role", "titulaire", "nom", "fonction", "email", "telephone")
ROLE_LABELS = {
    MembreBinome.Role.ELU: "un·e élu·e",
    MembreBinome.Role.TECHNICIEN: "un·e technicien·ne",
}


def clean_binome(binome: list[dict]) -> list[dict]:
    """The binôme as the service stores it, or a ValidationError listing every problem in French.

    Exactly one titulaire élu·e and one titulaire technicien·ne; suppléant·es optional; every
    member has a name and a valid e-mail of their own.
    """
    errors, members, seen = [], [], set()
    for raw in binome:
        member = {field: raw.get(field, "") for field in BINOME_FIELDS}
        member["titulaire"] = bool(raw.get("titulaire"))
        member["nom"] = (member["nom"] or "").strip()
        member["fonction"] = (member["fonction"] or "").strip()
        member["telephone"] = (member["telephone"] or "").strip()
        member["email"] = (member["email"] or "").strip().lower()
        if member["role"] not in MembreBinome.Role.values:
            errors.append(ValidationError("Rôle inconnu dans le binôme.", code="role"))
            continue
        if not member["nom"]:
            errors.append(
                ValidationError("Indiquez le nom et prénom de chaque membre.", code="nom")
            )
        try:
            validate_email(member["email"])
        except ValidationError:
            errors.append(
                ValidationError(
                    f"Saisissez une adresse e-mail valide pour {member['nom'] or 'chaque membre'}.",
                    code="email",
                )
            )
        else:
            if member["email"] in seen:
                errors.append(
                    ValidationError(
                        "Chaque membre du binôme a sa propre adresse e-mail : "
                        f"{member['email']} est saisie deux fois.",
                        code="email_twice",
                    )
                )
            seen.add(member["email"])
        members.append(member)
    for role in MembreBinome.Role:
        count = sum(1 for m in members if m["role"] == role and m["titulaire"])
        if count != 1:
            errors.append(
                ValidationError(
                    f"Le binôme compte exactement {ROLE_LABELS[role]} titulaire.",
                    code="titulaire",
                )
            )
    if errors:
        raise ValidationError(errors)
    return members


@transaction.atomic
def confirm_participation(*, participant, user, binome: list[dict]) -> Participant:
    """The collectivité confirms it takes part and who its binôme is.

    ``binome``: dicts with role (« elu » / « technicien »), titulaire, nom, fonction, email,
    telephone. Refused: someone outside the participation (PermissionDenied), a withdrawn
    participant, a binôme without exactly one titulaire per role or with a missing name or
    invalid e-mail (ValidationError, in French).
    Side effects: Participant becomes « confirmé »; ``confirme_at`` is the first confirmation
    and stays when the binôme is changed later. Its binôme rows are
    replaced by the confirmed ones. A member already on record (same e-mail) keeps their row,
    so their attendance stays theirs; one left out is deleted, unless attendance was recorded
    for them, in which case they stay as a suppléant·e so the attendance history is not lost.
    Every member's e-mail gets a User (no password: they sign in with an e-mailed link),
    linked to their row. History (simple_history, history_user = ``user``): one record of the
    participant (reason « Participation et binôme confirmés », then « Binôme modifié ») and
    one per member added, changed or deleted. No e-mail.
    """
    members = clean_binome(binome)
    locked = _check_member_of(participant, user)
    if locked.statut == Participant.Statut.RETIRE:
        raise ValidationError(
            "Votre collectivité s'est retirée du cycle : le binôme ne peut plus être modifié.",
            code="withdrawn",
        )
    User = get_user_model()
    users = _users_by_email(m["email"] for m in members)
    for member in members:
        if member["email"] not in users:
            users[member["email"]] = User.objects.create_user(member["email"], password=None)

    current = {m.email.lower(): m for m in locked.membres.all()}
    wanted = {m["email"]: m for m in members}

    def stays_titulaire(row):
        member = wanted.get(row.email.lower())
        return member is not None and member["titulaire"] and member["role"] == row.role

    # Clear the titulaire flags that change first: the one-titulaire-per-role constraint is
    # checked row by row, and an élu·e and a technicien·ne may swap places.
    for row in current.values():
        if row.titulaire and not stays_titulaire(row):
            row.titulaire = False
            row._history_user = user
            row.save(update_fields=["titulaire"])
    kept = set()
    for member in members:
        row = current.get(member["email"]) or MembreBinome(participant=locked)
        before = {field: getattr(row, field) for field in BINOME_FIELDS} | {"user": row.user_id}
        for field, value in member.items():
            setattr(row, field, value)
        row.user = users[member["email"]]
        after = {field: getattr(row, field) for field in BINOME_FIELDS} | {"user": row.user_id}
        if row.pk is None or before != after:
            row._history_user = user
            row.save()
        kept.add(row.pk)
    gone = locked.membres.exclude(pk__in=kept)
    for row in gone.filter(presences__isnull=True, remplacements__isnull=True).distinct():
        row._history_user = user
        row.delete()

    first_time = locked.confirme_at is None
    locked.statut = Participant.Statut.CONFIRME
    if first_time:
        locked.confirme_at = timezone.now()
    locked._history_user = user
    locked._change_reason = "Participation et binôme confirmés" if first_time else "Binôme modifié"
    locked.save(update_fields=["statut", "confirme_at"])
    participant.statut, participant.confirme_at = locked.statut, locked.confirme_at
    return locked


@transaction.atomic
def withdraw_participant(*, participant, user, reason) -> None:
    """The collectivité gives up its place in the cycle.

    Refused: someone outside the participation (PermissionDenied), an empty reason, a
    participant already withdrawn (ValidationError).
    Side effects: Participant becomes « retiré » (retire_at = now); its « retenue » Decision
    gets ``desistement_at`` and ``desistement_motif`` with a history row by ``user`` whose
    change reason is « Désistement : <reason> », exactly as
    ``candidatures.decisions.services.record_withdrawal`` records it, so that staff can call
    ``promote_next`` for the waiting list. (record_withdrawal itself only accepts a staff
    member as its author; a participant withdrawing is recorded under their own name.)
    E-mail (after commit): one message « retrait » to the call's contact address, when the
    call has one, with the collectivité, the reason, who withdrew and when.
    """
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Indiquez le motif du retrait."}, code="reason_required")
    locked = _check_member_of(participant, user)
    if locked.statut == Participant.Statut.RETIRE:
        raise ValidationError(
            f"Le retrait de votre collectivité est déjà enregistré "
            f"(le {format_datetime_fr(locked.retire_at)}).",
            code="already_withdrawn",
        )
    now = timezone.now()
    decision = (
        Decision.objects.select_for_update().filter(candidature_id=locked.candidature_id).first()
    )
    if decision is not None and decision.issue == Issue.RETENUE and not decision.desistement_at:
        decision.desistement_at = now
        decision.desistement_motif = reason
        decision._history_user = user
        decision._change_reason = f"Désistement : {reason}"[:HISTORY_REASON_LENGTH]
        decision.save(update_fields=["desistement_at", "desistement_motif"])
    locked.statut = Participant.Statut.RETIRE
    locked.retire_at = now
    locked.save(update_fields=["statut", "retire_at"])
    participant.statut, participant.retire_at = locked.statut, locked.retire_at
    _notify_withdrawal(locked, user=user, reason=reason, when=now)


def _notify_withdrawal(participant, *, user, reason, when) -> None:
    appel = participant.cycle.appel
    if not appel.contact_email:
        return
    membre = participant.membres.filter(email__iexact=user.email).first() if user.email else None
    context = {
        "collectivite": participant.candidature.collectivite.nom,
        "cycle_titre": participant.cycle.titre,
        "motif": reason,
        "auteur_nom": membre.nom if membre else user.get_full_name(),
        "auteur_email": user.email,
        "date": format_datetime_fr(when),
        "admin_url": site_url(reverse("admin:cycle_participant_change", args=[participant.pk])),
    }
    send_on_commit(build_email("retrait", context, to=[appel.contact_email]))
