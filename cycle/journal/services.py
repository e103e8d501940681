"""The journal de bord: write, edit and delete entries, and arrange shared ones per séance.

An entry belongs to one participation (a collectivité in the cycle) and to the person who wrote
it. Only that person changes it; every change is recorded by ``simple_history`` (one historical
record per change, with who made it). Those records are kept in the database only: no page shows
earlier versions, the author's journal shows how many there are. Who may *read* an entry is
decided in one place only: ``EntreeJournal.objects.readable_by``.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from cycle.journal.models import EntreeJournal
from cycle.participants.models import Participant
from cycle.seances.models import Seance

PROMPTS = ("points_forts", "points_vigilance", "idees", "marges_progression")
EDITABLE_FIELDS = frozenset({"seance", *PROMPTS, "visibilite"})

WITHDRAWN = (
    "Votre collectivité s'est retirée du cycle : vous pouvez relire votre journal de bord, "
    "mais plus y écrire de nouvelle entrée."
)

EMPTY_ENTRY = (
    "Renseignez au moins une rubrique : points forts, points de vigilance, idées ou marges "
    "de progression."
)

FUTURE_SEANCE = (
    "Cette séance n'a pas encore commencé : rattachez l'entrée à une séance passée ou à « entre "
    "deux séances »."
)


def with_versions(queryset):
    """Annotate ``versions``: how many historical records each entry has (one query, no N+1)."""
    history = EntreeJournal.history.model.objects.filter(id=OuterRef("pk"))
    versions = (
        history.order_by().values("id").annotate(total=Count("history_id")).values("total")[:1]
    )
    return queryset.annotate(
        versions=Coalesce(Subquery(versions, output_field=IntegerField()), Value(0))
    )


def _clean(*, participant, seance, prompts: dict, visibilite, kept_seance=None) -> dict:
    errors = {}
    cleaned = {name: (prompts.get(name) or "").strip() for name in PROMPTS}
    if not any(cleaned.values()):
        errors["__all__"] = [EMPTY_ENTRY]
    if visibilite not in EntreeJournal.Visibilite.values:
        errors["visibilite"] = ["Choisissez qui peut lire cette entrée."]
    if seance is not None and seance.cycle_id != participant.cycle_id:
        errors["seance"] = ["Cette séance n'appartient pas au cycle de votre collectivité."]
    elif (
        seance is not None
        and seance != kept_seance  # an entry already attached to it keeps it
        and not seance.has_started()
    ):
        errors["seance"] = [FUTURE_SEANCE]
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_member(participant, auteur):
    # A person who left the participation (or never belonged to it) writes nothing in its name.
    if not Participant.objects.of_user(auteur).filter(pk=participant.pk).exists():
        raise PermissionDenied("Vous ne faites pas partie de cette collectivité participante.")


def _check_author(entree, auteur):
    if entree.auteur_id != auteur.pk:
        raise PermissionDenied(
            "Seul·e l'auteur·rice d'une entrée peut la modifier ou la supprimer."
        )


def write_entry(
    *,
    participant: Participant,
    auteur,
    seance: Seance | None,
    points_forts: str = "",
    points_vigilance: str = "",
    idees: str = "",
    marges_progression: str = "",
    visibilite: str = EntreeJournal.Visibilite.PRIVEE,
) -> EntreeJournal:
    """Write one journal entry for ``participant``, signed by ``auteur``.

    ``seance`` None means « entre deux séances ». Refused with PermissionDenied when ``auteur``
    is not one of the participation's people, with ValidationError (French) when the
    participation has withdrawn from the cycle (``WITHDRAWN``: reading stays, writing stops), and
    per field when all four prompts are empty, the visibility is unknown or the séance is
    another cycle's or has not started yet.
    Side effects, in one transaction: one EntreeJournal row and its first historical record
    (history_user = auteur). Nothing is e-mailed.
    """
    with transaction.atomic():
        _check_member(participant, auteur)
        if Participant.objects.filter(pk=participant.pk, statut=Participant.Statut.RETIRE).exists():
            raise ValidationError(WITHDRAWN)
        prompts = _clean(
            participant=participant,
            seance=seance,
            prompts={
                "points_forts": points_forts,
                "points_vigilance": points_vigilance,
                "idees": idees,
                "marges_progression": marges_progression,
            },
            visibilite=visibilite,
        )
        entree = EntreeJournal(
            participant=participant,
            auteur=auteur,
            seance=seance,
            visibilite=visibilite,
            **prompts,
        )
        entree._history_user = auteur
        entree.save()
        return entree


def update_entry(*, entree: EntreeJournal, auteur, **fields) -> EntreeJournal:
    """Change ``entree`` (séance, prompts, visibility): sharing is withdrawn by setting the
    visibility back to « privee ».

    Only the author may do it, and only while still one of the participation's people
    (PermissionDenied otherwise); the same ValidationError rules as ``write_entry`` apply to
    the result; an unknown field name is a programming error (TypeError).
    Side effects, in one transaction: the row is updated and one historical record is added
    (history_user = auteur), kept in the database (no page shows earlier versions; the journal
    shows their number). Nothing is saved when nothing changed.
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"update_entry() got unexpected fields: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        entree = EntreeJournal.objects.select_for_update().get(pk=entree.pk)
        _check_author(entree, auteur)
        _check_member(entree.participant, auteur)
        seance = fields.get("seance", entree.seance)
        visibilite = fields.get("visibilite", entree.visibilite)
        prompts = _clean(
            participant=entree.participant,
            seance=seance,
            prompts={name: fields.get(name, getattr(entree, name)) for name in PROMPTS},
            visibilite=visibilite,
            kept_seance=entree.seance,
        )
        changed = (
            seance != entree.seance
            or visibilite != entree.visibilite
            or any(prompts[name] != getattr(entree, name) for name in PROMPTS)
        )
        if not changed:
            return entree
        entree.seance = seance
        entree.visibilite = visibilite
        for name, value in prompts.items():
            setattr(entree, name, value)
        entree._history_user = auteur
        entree.save()
        return entree


def delete_entry(*, entree: EntreeJournal, auteur) -> None:
    """Delete ``entree``; only its author may (PermissionDenied otherwise).

    Side effects, in one transaction: the row and the facilitators' replies to it are deleted;
    simple_history keeps a « deleted » historical record (history_user = auteur) in the database.
    """
    with transaction.atomic():
        entree = EntreeJournal.objects.select_for_update().get(pk=entree.pk)
        _check_author(entree, auteur)
        entree._history_user = auteur
        entree.delete()


# Shared journal ------------------------------------------------------------------------------


def seance_of(entree: EntreeJournal, seances: list[Seance]) -> Seance | None:
    """The séance under which a shared entry is read: the one it is about when it names one;
    otherwise (« entre deux séances ») the séance held when it was written, its « current
    séance » (``Seance.held_at``: an entry written after séance N started is about what
    happened since séance N). None: written before the first séance started. ``seances``: the
    entry's cycle's, already fetched."""
    if entree.seance_id is not None:
        return next((s for s in seances if s.pk == entree.seance_id), None)
    return Seance.held_at(seances, entree.created_at)


def shared_by_seance(entries, seances: list[Seance], *, now=None) -> list[dict]:
    """Group shared ``entries`` per séance (``seance_of``), then per collectivité (alphabetical).

    Returns ``[{"seance": Seance | None, "courante": bool, "collectivites": [(Collectivite,
    [entries])]}]``: the « before the first séance » block (seance None) first when it has
    entries, then every séance held by ``now`` (empty ones too: the page shows the cycle so
    far) and any later one that has entries, in séance order. ``courante`` marks the current
    séance (``Seance.held_at(seances, now)``): the entries written since the last séance.
    Pure Python on already-fetched rows.
    """
    now = now or timezone.now()
    current = Seance.held_at(seances, now)
    before = {"seance": None, "groups": {}}
    blocks = {s.pk: {"seance": s, "groups": {}} for s in seances}
    for entree in entries:
        seance = seance_of(entree, seances)
        block = blocks[seance.pk] if seance is not None else before
        collectivite = entree.participant.candidature.collectivite
        block["groups"].setdefault(collectivite, []).append(entree)
    result = []
    for block in [before, *blocks.values()]:
        seance = block["seance"]
        shown = seance.has_started(now) if seance is not None else False
        if not (shown or block["groups"]):
            continue
        groups = sorted(block["groups"].items(), key=lambda item: item[0].nom)
        result.append(
            {
                "seance": seance,
                "courante": seance is not None and seance == current,
                "collectivites": groups,
            }
        )
    return result
