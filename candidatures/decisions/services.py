"""Workflows of the decisions: decide, the waiting list, withdrawal, capacity.

A decision is staged by staff (decide), then published from the call's announcement date
(``publication.publish_decisions``). After publication a decision changes only through the
waiting-list workflow (record_withdrawal, ``publication.promote_next``). Each function runs in
one transaction, takes keyword-only arguments and is the only way its change happens.
"""

import dataclasses

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from candidatures.appels.models import Appel
from candidatures.dossiers.models import Candidature
from candidatures.jury.models import Evaluation
from cerdd_ami.formats import format_datetime_fr

from . import hooks
from .models import Decision, Issue, ModeleCourrier

HISTORY_REASON_LENGTH = 100  # HistoricalDecision.history_change_reason

# The letters already say the outcome, the number of places and what the waiting list means:
# a motivation says only why.
DEFAULT_MOTIVATIONS = {
    Issue.RETENUE: (
        "Le jury a apprécié la qualité de votre candidature : la motivation de la collectivité, "
        "les actions déjà engagées et les pistes de travail envisagées répondent pleinement aux "
        "attentes du cycle de qualification."
    ),
    Issue.LISTE_ATTENTE: (
        "Le jury a apprécié votre candidature, solide, même si la dynamique engagée est un peu "
        "moins avancée que celle des collectivités retenues."
    ),
    Issue.NON_RETENUE: (
        "Le jury a retenu les candidatures dont la dynamique participative et de transition "
        "répondait le mieux aux critères de l'appel."
    ),
}
PROMOTION_MOTIVATION = (
    "Une collectivité retenue s'étant désistée, une place s'est libérée dans le cycle : votre "
    "candidature, première sur la liste d'attente, est désormais retenue."
)
PUBLISHED_DECISION_LOCKED = (
    "Cette décision est publiée : elle ne peut plus être modifiée. Après la publication, seuls "
    "un désistement et l'appel du suivant de la liste d'attente changent les décisions."
)


def default_motivation(issue, appel) -> str:
    """The motivation offered to staff for ``issue``, with the call's number of places."""
    return DEFAULT_MOTIVATIONS[Issue(issue)].format(places=appel.places)


def _require_staff(user) -> None:
    if not (user and user.is_active and user.is_staff):
        raise PermissionDenied("Seule l'équipe du Cerdd peut décider des candidatures.")


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count <= 1 else (plural or singular + 's')}"


def _publication_opens_message(appel) -> str:
    return (
        "Les décisions ne peuvent être publiées qu'à partir du "
        f"{format_datetime_fr(appel.announcement_at)} (heure de Paris)."
    )


def check_decision(*, candidature, issue, motivation="", rang_attente=None) -> None:
    """What ``decide`` refuses before touching anything, for forms to show next to the field.

    Raises a ValidationError whose ``error_dict`` names the field at fault.
    """
    if candidature.statut != Candidature.Statut.DEPOSEE:
        raise ValidationError({"candidature": "Seul un dossier déposé peut recevoir une décision."})
    if issue not in Issue.values:
        raise ValidationError({"issue": "Choisissez une décision dans la liste."})
    if issue != Issue.RETENUE and not (motivation or "").strip():
        raise ValidationError(
            {
                "motivation": "Indiquez la motivation : elle figure dans le courrier "
                f"« {Issue(issue).label.lower()} »."
            }
        )
    if rang_attente is not None:
        if issue != Issue.LISTE_ATTENTE:
            raise ValidationError(
                {"rang_attente": "Le rang ne s'applique qu'à une décision « liste d'attente »."}
            )
        if rang_attente < 1:
            raise ValidationError({"rang_attente": "Le rang commence à 1."})


def jury_feedback(candidature) -> list[str]:
    """The jurors' « retour pour la collectivité » staff may quote in the letter: those of the
    évaluations the ranking counts (submitted, by a juror who may still score the dossier:
    no conflict, registered or detected, still in the jury, still assigned), without
    duplicates, in jurors' name order."""
    evaluations = (
        Evaluation.objects.counted()
        .filter(candidature=candidature)
        .exclude(retour_collectivite="")
        .select_related("jure")
        .order_by("jure__last_name", "jure__first_name", "jure__email")
    )
    # for_juror is the one rule of who may score what; a handful of jurors per dossier.
    texts = [
        evaluation.retour_collectivite.strip()
        for evaluation in evaluations
        if Candidature.objects.for_juror(evaluation.jure).filter(pk=candidature.pk).exists()
    ]
    return list(dict.fromkeys(text for text in texts if text))


def _waiting_list(appel, *, exclude=None) -> list[Decision]:
    """The call's waiting list, locked, in rank order (ties broken by date of decision)."""
    queryset = Decision.objects.select_for_update(of=("self",)).filter(
        candidature__appel=appel, issue=Issue.LISTE_ATTENTE
    )
    if exclude is not None and exclude.pk:
        queryset = queryset.exclude(pk=exclude.pk)
    return list(queryset.order_by("rang_attente", "decided_at", "pk"))


def _renumber(ordered: list[Decision], *, staff_user) -> None:
    """Ranks 1, 2, 3… in this order; only the decisions whose rank changes are saved (and
    logged)."""
    for rank, decision in enumerate(ordered, start=1):
        if decision.rang_attente != rank:
            decision.rang_attente = rank
            decision._history_user = staff_user
            decision.save(update_fields=["rang_attente"])


@transaction.atomic
def decide(
    *,
    candidature,
    issue,
    motivation="",
    retour_jury="",
    rang_attente=None,
    staff_user,
    now=None,
) -> Decision:
    """Record, or change, the decision on one submitted dossier; it stays staged (invisible to
    the applicant) until ``publish_decisions``.

    Refused (ValidationError in French, see ``check_decision``): a draft, an unknown issue, a
    « liste d'attente » or « non retenue » without motivation, a rank outside the waiting
    list; a change to a decision already published (afterwards only ``record_withdrawal`` and
    ``promote_next`` change decisions); once the call's decisions are published, a rank that
    would push back a published waiting-list decision. PermissionDenied for non-staff.

    The waiting list stays numbered 1, 2, 3…: without ``rang_attente`` a dossier joining it
    goes last and one already on it keeps its place; with it, the dossiers from that rank move
    down one; a dossier leaving the list makes those behind it move up.
    Side effects: creates or updates the Decision (decided_by, decided_at, a history row by the
    staff member), renumbers the waiting list (a history row per moved decision). Saving the
    same values again changes nothing. No letter, no e-mail: both come with publication.
    """
    _require_staff(staff_user)
    now = now or timezone.now()
    motivation = (motivation or "").strip()
    retour_jury = (retour_jury or "").strip()
    check_decision(
        candidature=candidature, issue=issue, motivation=motivation, rang_attente=rang_attente
    )
    # The appel row first, then the dossier (same order as submit_candidature): decisions of
    # one call are serialised, so the waiting list is renumbered by one writer at a time.
    appel = Appel.objects.select_for_update().get(pk=candidature.appel_id)
    locked = (
        Candidature.objects.select_for_update(of=("self",))
        .select_related("appel", "collectivite")
        .get(pk=candidature.pk)
    )
    check_decision(candidature=locked, issue=issue, motivation=motivation)

    existing = Decision.objects.select_for_update().filter(candidature=locked).first()
    waiting = _waiting_list(appel, exclude=existing)
    position = None
    if issue == Issue.LISTE_ATTENTE:
        if rang_attente is not None:
            position = rang_attente
        elif existing and existing.issue == Issue.LISTE_ATTENTE and existing.rang_attente:
            position = existing.rang_attente
        else:
            position = len(waiting) + 1
        position = min(position, len(waiting) + 1)

    if existing is not None:
        unchanged = (existing.issue, existing.motivation, existing.retour_jury) == (
            issue,
            motivation,
            retour_jury,
        ) and (rang_attente is None or existing.rang_attente == position)
        if unchanged:
            return existing
        if existing.published_at is not None:
            raise ValidationError(PUBLISHED_DECISION_LOCKED, code="published")
    stays_in_place = (
        existing is not None
        and existing.issue == Issue.LISTE_ATTENTE
        and existing.rang_attente == position
    )
    if (
        position is not None
        and not stays_in_place
        and any(d.published_at for d in waiting[position - 1 :])
    ):
        raise ValidationError(
            {
                "rang_attente": "Les décisions sont publiées : une nouvelle entrée sur la liste "
                f"d'attente y prend la dernière place (rang {len(waiting) + 1})."
            }
        )

    decision = existing or Decision(candidature=locked)
    decision.issue = issue
    decision.motivation = motivation
    decision.retour_jury = retour_jury
    decision.rang_attente = position
    decision.decided_by = staff_user
    decision.decided_at = now
    decision._history_user = staff_user
    decision.save()
    if position is not None:
        waiting.insert(position - 1, decision)
    _renumber(waiting, staff_user=staff_user)
    return decision


@transaction.atomic
def record_withdrawal(*, candidature, staff_user, reason, now=None) -> Decision:
    """A retained collectivité gives up its place in the cycle.

    Refused: no reason, no « retenue » decision, a withdrawal already recorded. The place is
    not handed on automatically: staff call ``promote_next`` when they choose to.
    Side effects: ``Decision.desistement_at`` and ``desistement_motif`` (the whole reason), one
    history row by the staff member whose change reason is « Désistement : <reason> » (cut to
    the 100 characters the history keeps); then, in this transaction, every
    ``hooks.on_withdrawn`` callable (the cycle's makes the collectivité's ``Participant``, when
    there is one, « retiré » with ``retire_at`` = the withdrawal).
    No e-mail.
    """
    _require_staff(staff_user)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": "Indiquez le motif du désistement."}, code="reason_required"
        )
    Appel.objects.select_for_update().get(pk=candidature.appel_id)
    decision = Decision.objects.select_for_update().filter(candidature=candidature).first()
    if decision is None or decision.issue != Issue.RETENUE:
        raise ValidationError(
            "Seule une collectivité retenue peut se désister.", code="not_retained"
        )
    if decision.desistement_at is not None:
        raise ValidationError(
            "Le désistement de cette collectivité est déjà enregistré "
            f"(le {format_datetime_fr(decision.desistement_at)}).",
            code="already_withdrawn",
        )
    decision.desistement_at = now or timezone.now()
    decision.desistement_motif = reason
    decision._history_user = staff_user
    decision._change_reason = f"Désistement : {reason}"[:HISTORY_REASON_LENGTH]
    decision.save(update_fields=["desistement_at", "desistement_motif"])
    hooks.withdrawn(candidature=candidature, now=decision.desistement_at)
    return decision


@dataclasses.dataclass
class Capacite:
    """Where the call's decisions stand against its number of places."""

    appel: Appel
    places: int
    retenues: int  # retained and not withdrawn
    desistements: int
    liste_attente: list[Decision]  # in rank order, candidature and collectivité loaded
    non_retenues: int
    sans_decision: list[Candidature]  # submitted dossiers still without a decision
    a_publier: int  # decisions not published yet

    @property
    def depassement(self) -> bool:
        return self.retenues > self.places

    @property
    def places_libres(self) -> int:
        return max(self.places - self.retenues, 0)

    @property
    def texte(self) -> str:
        """« 12 places — 10 retenues — liste d'attente : 1. Arras, 2. Lens »."""
        waiting = ", ".join(
            f"{decision.rang_attente}. {decision.candidature.collectivite.nom}"
            for decision in self.liste_attente
        )
        parts = [
            _plural(self.places, "place"),
            _plural(self.retenues, "retenue"),
            f"liste d'attente : {waiting or 'vide'}",
        ]
        return " — ".join(parts)

    @property
    def avertissement(self) -> str:
        if not self.depassement:
            return ""
        retained = _plural(self.retenues, "collectivité retenue", "collectivités retenues")
        return f"Attention : {retained} pour {_plural(self.places, 'place')}."


def capacity(appel) -> Capacite:
    """The numbers staff keep in view while deciding (5 queries, whatever the call's size)."""
    decisions = Decision.objects.filter(candidature__appel=appel)
    waiting = list(
        decisions.filter(issue=Issue.LISTE_ATTENTE)
        .select_related("candidature__collectivite")
        .order_by("rang_attente", "decided_at", "pk")
    )
    counts = {
        issue: decisions.filter(issue=issue, desistement_at__isnull=True).count()
        for issue in (Issue.RETENUE, Issue.NON_RETENUE)
    }
    return Capacite(
        appel=appel,
        places=appel.places,
        retenues=counts[Issue.RETENUE],
        desistements=decisions.filter(desistement_at__isnull=False).count(),
        liste_attente=waiting,
        non_retenues=counts[Issue.NON_RETENUE],
        sans_decision=list(
            appel.candidatures.deposees()
            .filter(decision__isnull=True)
            .select_related("collectivite")
            .order_by("numero")
        ),
        a_publier=decisions.filter(published_at__isnull=True).count(),
    )


# ---------------------------------------------------------------------------------------------
# « Préparer l'édition suivante »: the letter templates go with the call


def copy_letter_templates(*, source, target, offset) -> str | None:
    """Copy ``source``'s letter templates (one per outcome) onto the new call ``target``.

    Registered in ``candidatures.appels.hooks.edition_copiers`` (candidatures/apps.py) and
    called by ``candidatures.appels.services.prepare_next_edition``, inside its transaction:
    side effect, one ``ModeleCourrier`` per template of ``source``. The texts are copied as
    they are (their variables follow the new call); ``offset`` is not needed: a template holds
    no date of its own.
    """
    modeles = list(ModeleCourrier.objects.filter(appel=source).order_by("issue"))
    ModeleCourrier.objects.bulk_create(
        ModeleCourrier(appel=target, issue=modele.issue, objet=modele.objet, corps=modele.corps)
        for modele in modeles
    )
    if not modeles:
        return None
    return _plural(len(modeles), "modèle de courrier", "modèles de courrier")
