"""Journal de bord, Cerdd side and commitments: replies to shared entries, commitments to
experiment and their progress, and the exports (a participant's journal, the cycle's
capitalisation as PDF, the shared entries as XLSX).

Who reads what is decided by ``EntreeJournal.objects.readable_by``: staff read shared entries
only, so every staff-facing function here starts from shared entries and nothing else.
"""

from datetime import date as date_type

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Prefetch
from django.urls import reverse
from django.utils import timezone

from cerdd_ami.emails import build_email, send_on_commit, site_url
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from cerdd_ami.pdf import french_typography
from cycle.journal import services as journal
from cycle.journal.models import (
    AvancementEngagement,
    Engagement,
    EntreeJournal,
    ReponseFacilitateur,
)
from cycle.participants.models import Participant
from cycle.presences import attendance
from cycle.seances.models import Seance

# The call's four prompts, in its order: (field, label).
PROMPTS = [
    ("points_forts", "Points forts retenus"),
    ("points_vigilance", "Points de vigilance"),
    ("idees", "Idées"),
    ("marges_progression", "Marges de progression"),
]
ENTRE_SEANCES = "Entre deux séances"
AVANT_PREMIERE = "Avant la première séance"


def _is_member(user, participant) -> bool:
    return Participant.objects.of_user(user).filter(pk=participant.pk).exists()


def _may_act_for(user, participant, permission: str) -> bool:
    """People of the collectivité, or staff holding ``permission`` (an add permission: reading
    the commitments, ``view_engagement``, is not enough to write in a collectivité's name)."""
    if not user.is_authenticated:
        return False
    # is_staff alone would let jurors in.
    staff = user.is_staff and user.has_perm(permission)
    return staff or _is_member(user, participant)


def _clean_text(texte: str, field: str = "texte") -> str:
    texte = (texte or "").strip()
    if not texte:
        raise ValidationError({field: "Ce champ est obligatoire."})
    return texte


# ---------------------------------------------------------------------------------------------
# Replies of the Cerdd's team


@transaction.atomic
def reply(*, entree: EntreeJournal, staff_user, texte: str) -> ReponseFacilitateur:
    """A facilitator's short reply to a shared entry; private or binôme entries are refused
    (staff must not even know they exist, let alone answer them).

    Side effects: one ReponseFacilitateur row (shown under the entry in its author's « Journal
    de bord » and in the shared journal); after commit, one e-mail « reponse_journal » to the
    entry's author with the reply, their entry and a link to it (reply-to: the call's contact).
    """
    if not (staff_user.is_staff and staff_user.has_perm("cycle.add_reponsefacilitateur")):
        raise PermissionDenied("Seule l'équipe du Cerdd répond aux entrées du journal.")
    if entree.visibilite != EntreeJournal.Visibilite.PARTAGEE:
        raise PermissionDenied("Cette entrée n'est pas partagée avec le cycle.")
    reponse = ReponseFacilitateur.objects.create(
        entree=entree, auteur=staff_user, texte=_clean_text(texte)
    )
    _notify_reply(reponse)
    return reponse


def _notify_reply(reponse: ReponseFacilitateur) -> None:
    entree = reponse.entree
    if not entree.auteur.email:
        return
    participant = entree.participant
    appel = participant.cycle.appel
    path = reverse("cycle:journal", args=[participant.pk])
    context = {
        "auteur_nom": entree.auteur.get_full_name(),
        "cycle_titre": participant.cycle.titre,
        "seance": f"séance {entree.seance.numero}" if entree.seance else "entre deux séances",
        "ecrite_le": format_date_fr(entree.created_at),
        "prompts": [
            (label, getattr(entree, name)) for name, label in PROMPTS if getattr(entree, name)
        ],
        "reponse": reponse.texte,
        "repondant": reponse.auteur.get_full_name() if reponse.auteur else "",
        "journal_url": site_url(f"{path}#entree-{entree.pk}"),
    }
    send_on_commit(
        build_email(
            "reponse_journal", context, to=[entree.auteur.email], reply_to=[appel.contact_email]
        )
    )


# ---------------------------------------------------------------------------------------------
# Commitments to experiment


@transaction.atomic
def declare_engagement(*, participant: Participant, user, nature: str, description: str):
    if not _may_act_for(user, participant, "cycle.add_engagement"):
        raise PermissionDenied
    if participant.statut == Participant.Statut.RETIRE:
        raise ValidationError("Cette collectivité s'est retirée du cycle.")
    if nature not in Engagement.Nature.values:
        raise ValidationError({"nature": "Choisissez une nature d'engagement de la liste."})
    return Engagement.objects.create(
        participant=participant,
        nature=nature,
        description=_clean_text(description, "description"),
        created_by=user,
    )


@transaction.atomic
def record_progress(
    *, engagement: Engagement, user, statut: str, texte: str, date: date_type | None = None
) -> AvancementEngagement:
    """A dated progress note; the engagement takes the statut of its latest note."""
    # Lock the engagement: two notes saved together must leave the statut of the latest one.
    engagement = Engagement.objects.select_for_update().get(pk=engagement.pk)
    if not _may_act_for(user, engagement.participant, "cycle.add_avancementengagement"):
        raise PermissionDenied
    if statut not in Engagement.Statut.values:
        raise ValidationError({"statut": "Choisissez un état de la liste."})
    date = date or timezone.localdate()
    if date > timezone.localdate():
        raise ValidationError({"date": "La date ne peut pas être dans le futur."})
    avancement = AvancementEngagement.objects.create(
        engagement=engagement, date=date, texte=_clean_text(texte), statut=statut, auteur=user
    )
    latest = engagement.avancements.order_by("-date", "-pk").first()
    if engagement.statut != latest.statut:
        engagement.statut = latest.statut
        engagement.save(update_fields=["statut"])
    return avancement


def engagements_of(queryset):
    """Engagements with collectivité, progress (oldest first) and last progress date."""
    return (
        queryset.select_related("participant__candidature__collectivite")
        .prefetch_related(
            Prefetch(
                "avancements",
                queryset=AvancementEngagement.objects.select_related("auteur").order_by(
                    "date", "pk"
                ),
            )
        )
        .annotate(dernier_avancement=Max("avancements__date"))
        .order_by("participant__candidature__collectivite__nom", "created_at", "pk")
    )


# ---------------------------------------------------------------------------------------------
# Exports


def _entry_block(entree: EntreeJournal) -> dict:
    return {
        "entree": entree,
        "collectivite": str(entree.participant),
        "seance": f"Séance {entree.seance.numero}" if entree.seance_id else ENTRE_SEANCES,
        "ecrite_le": format_date_fr(entree.created_at),
        "prompts": [
            {"label": label, "texte": getattr(entree, name)}
            for name, label in PROMPTS
            if getattr(entree, name)
        ],
        "reponses": list(entree.reponses.all()),
    }


def _entries(queryset):
    return queryset.select_related(
        "participant__candidature__collectivite", "seance", "auteur"
    ).prefetch_related(
        Prefetch("reponses", queryset=ReponseFacilitateur.objects.select_related("auteur"))
    )


def journal_entries(participant: Participant, user):
    """What ``user`` may read of ``participant``'s journal: their own entries, the binôme's
    and shared ones; never another person's private entry."""
    return _entries(
        EntreeJournal.objects.readable_by(user).filter(participant=participant)
    ).order_by("created_at", "pk")


def shared_entries(cycle):
    return _entries(EntreeJournal.objects.partagees().filter(participant__cycle=cycle)).order_by(
        "seance__numero", "created_at", "pk"
    )


def journal_context(participant: Participant, user) -> dict:
    entries = [_entry_block(entree) for entree in journal_entries(participant, user)]
    labels = dict(EntreeJournal.Visibilite.choices)
    for block in entries:
        block["visibilite"] = labels[block["entree"].visibilite]
    return {
        "participant": participant,
        "collectivite": str(participant),
        "cycle": participant.cycle,
        "lecteur": user.get_full_name() or user.email,
        "entrees": entries,
        "edite_le": french_typography(f"Édité le {format_datetime_fr(timezone.now())}"),
    }


def attendance_summary(cycle) -> list[dict]:
    """Per collectivité: séances attended (at least one side there) and complete binômes,
    out of the séances whose attendance was recorded."""
    data = attendance.cycle_attendance(cycle)
    recorded = {
        cell.seance.pk
        for row in data.rows
        for cell in row.cells
        if cell.state != attendance.NOT_RECORDED
    }
    lines = []
    for row in data.rows:
        cells = [cell for cell in row.cells if cell.state != attendance.NOT_RECORDED]
        lines.append(
            {
                "collectivite": str(row.participant),
                # A recorded séance where not both sides are missing: somebody came.
                "suivies": sum(1 for cell in cells if len(cell.missing) < 2),
                "completes": sum(1 for cell in cells if cell.state == attendance.COMPLETE),
                "saisies": len(recorded),
            }
        )
    return lines


def capitalisation_context(cycle) -> dict:
    entries = list(shared_entries(cycle))
    seances = list(Seance.objects.filter(cycle=cycle).order_by("numero"))
    # The same rule as the shared journal (``journal.seance_of``): each entry under the séance
    # it is about, or the one held when it was written; those before the first séance first.
    grouped = {}
    for entree in entries:
        seance = journal.seance_of(entree, seances)
        grouped.setdefault(seance.pk if seance else None, []).append(entree)
    by_seance = []
    for seance in [None, *seances]:
        of_seance = grouped.get(seance.pk if seance else None, [])
        if not of_seance:
            continue
        prompts = []
        for name, label in PROMPTS:
            items = [
                {
                    "collectivite": str(e.participant),
                    "texte": getattr(e, name),
                }
                for e in of_seance
                if getattr(e, name)
            ]
            if items:
                prompts.append({"label": label, "items": items})
        by_seance.append(
            {
                "titre": (
                    f"Séance {seance.numero} — {format_date_fr(seance.date)}"
                    + (f", {seance.lieu}" if seance.lieu else "")
                    if seance
                    else AVANT_PREMIERE
                ),
                "themes": seance.themes if seance else "",
                "prompts": prompts,
                "nombre": len(of_seance),
                "reponses": [r for e in of_seance for r in e.reponses.all()],
            }
        )
    engagements = list(engagements_of(Engagement.objects.filter(participant__cycle=cycle)))
    return {
        "cycle": cycle,
        "appel": cycle.appel,
        "seances": by_seance,
        "nombre_entrees": len(entries),
        "engagements": [
            {
                "engagement": e,
                "collectivite": str(e.participant),
                "avancements": [
                    {"date": format_date_fr(a.date), "statut": a.get_statut_display(), "a": a}
                    for a in e.avancements.all()
                ],
            }
            for e in engagements
        ],
        "presences": attendance_summary(cycle),
        "edite_le": french_typography(f"Édité le {format_datetime_fr(timezone.now())}"),
    }


def render_journal_pdf(participant: Participant, user) -> bytes:
    return attendance._pdf("pdf/journal.html", journal_context(participant, user))


def render_capitalisation_pdf(cycle) -> bytes:
    return attendance._pdf("pdf/capitalisation.html", capitalisation_context(cycle))


ENTRIES_HEADERS = [
    "Séance",
    "Date de la séance",
    "Collectivité",
    "Auteur·rice",
    *(label for _name, label in PROMPTS),
    "Écrite le",
    "Réponses de l'équipe",
]


def entries_table(cycle) -> tuple[list[str], list[list]]:
    """The shared entries of ``cycle``, one row each (never private or binôme ones)."""
    rows = []
    for e in shared_entries(cycle):
        rows.append(
            [
                f"Séance {e.seance.numero}" if e.seance_id else ENTRE_SEANCES,
                e.seance.date if e.seance_id else None,
                str(e.participant),
                e.auteur.get_full_name() or e.auteur.email,
                *(getattr(e, name) for name, _label in PROMPTS),
                timezone.localtime(e.created_at).replace(tzinfo=None),
                "\n".join(r.texte for r in e.reponses.all()),
            ]
        )
    return ENTRIES_HEADERS, rows
