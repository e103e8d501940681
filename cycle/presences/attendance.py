"""Attendance of the cycle: sign-in sheets, binôme completeness, the grid, certificates.

Everything here reads; recording goes through ``cycle.presences.services.record_attendance``.
``cycle_attendance(cycle)`` loads a whole cycle in a fixed number of queries (participants,
members, séances, presences), whatever the number of collectivités: the grid page, its alerts,
the list of certificates and the XLSX export are all computed from it.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from candidatures.decisions.letters import collectivite_names, signature_data_url
from cerdd_ami.formats import format_date_fr
from cerdd_ami.pdf import french_typography, pdf_from_html
from cycle.participants.models import MembreBinome, Participant
from cycle.presences.models import Presence
from cycle.seances.models import Seance
from cycle.seances.services import cycle_is_over

COMPLETE = "complet"
INCOMPLETE = "incomplet"
NOT_RECORDED = "non_saisi"
STATE_LABELS = {
    COMPLETE: "Binôme complet",
    INCOMPLETE: "Binôme incomplet",
    NOT_RECORDED: "Présences non saisies",
}


def membre_label(membre: MembreBinome) -> str:
    """« Élu·e titulaire », « Technicien·ne suppléant·e »."""
    return f"{membre.get_role_display()} {'titulaire' if membre.titulaire else 'suppléant·e'}"


def _covered(membres, by_membre: dict) -> set[str]:
    """Roles (élu·e, technicien·ne) with someone at the séance: present, or replaced."""
    roles = set()
    for membre in membres:
        presence = by_membre.get(membre.pk)
        if presence is None:
            continue
        if presence.statut == Presence.Statut.PRESENT or (
            presence.statut == Presence.Statut.REMPLACE and presence.remplacant_id
        ):
            roles.add(membre.role)
    return roles


def binome_complete(participant, seance, presences) -> bool | None:
    """Whether ``participant``'s binôme was complete at ``seance``: its élu·e side present or
    replaced AND its technicien·ne side present or replaced. None when nobody of the
    collectivité has been recorded for that séance.

    ``presences`` is any iterable of Presence (e.g. all of the cycle's): only those of this
    séance and of this participant's members count. ``participant.membres.all()`` is read, so
    prefetch it when calling in a loop.
    """
    membres = list(participant.membres.all())
    ids = {membre.pk for membre in membres}
    by_membre = {
        p.membre_id: p for p in presences if p.seance_id == seance.pk and p.membre_id in ids
    }
    if not by_membre:
        return None
    covered = _covered(membres, by_membre)
    return {MembreBinome.Role.ELU, MembreBinome.Role.TECHNICIEN} <= covered


def missing_sides(participant, seance, presences) -> list[str]:
    """« élu·e », « technicien·ne »: the sides with nobody at the séance (for alerts)."""
    membres = list(participant.membres.all())
    ids = {membre.pk for membre in membres}
    by_membre = {
        p.membre_id: p for p in presences if p.seance_id == seance.pk and p.membre_id in ids
    }
    covered = _covered(membres, by_membre)
    names = {MembreBinome.Role.ELU: "élu·e", MembreBinome.Role.TECHNICIEN: "technicien·ne"}
    return [label for role, label in names.items() if role not in covered]


# ---------------------------------------------------------------------------------------------
# One cycle's attendance, loaded once


@dataclass
class Cell:
    seance: Seance
    state: str
    missing: list[str] = field(default_factory=list)


@dataclass
class Row:
    participant: Participant
    cells: list[Cell]


@dataclass
class Person:
    membre: MembreBinome
    attended: int
    eligible: bool


@dataclass
class CycleAttendance:
    cycle: object
    seances: list[Seance]
    participants: list[Participant]
    presences: list[Presence]
    rows: list[Row]
    alerts: list[tuple[Participant, Cell]]
    people: list[Person]

    @property
    def eligible(self) -> list[Person]:
        return [person for person in self.people if person.eligible]


def _membres_prefetch():
    return Prefetch("membres", queryset=MembreBinome.objects.order_by("-titulaire", "role", "nom"))


def active_participants(cycle):
    return (
        Participant.objects.actifs()
        .filter(cycle=cycle)
        .select_related("candidature__collectivite")
        .prefetch_related(_membres_prefetch())
        .order_by("candidature__collectivite__nom", "pk")
    )


def attended_counts(presences) -> dict[int, int]:
    """Séances each person attended: recorded présent·e, or named as someone's replacement."""
    seances_by_person: dict[int, set[int]] = {}
    for presence in presences:
        if presence.statut == Presence.Statut.PRESENT:
            seances_by_person.setdefault(presence.membre_id, set()).add(presence.seance_id)
        if presence.statut == Presence.Statut.REMPLACE and presence.remplacant_id:
            seances_by_person.setdefault(presence.remplacant_id, set()).add(presence.seance_id)
    return {pk: len(seances) for pk, seances in seances_by_person.items()}


def cycle_attendance(cycle) -> CycleAttendance:
    seances = list(Seance.objects.filter(cycle=cycle).order_by("numero"))
    participants = list(active_participants(cycle))
    presences = list(Presence.objects.filter(seance__cycle=cycle))
    by_seance_membre = {(p.seance_id, p.membre_id): p for p in presences}
    rows, alerts = [], []
    for participant in participants:
        membres = list(participant.membres.all())
        cells = []
        for seance in seances:
            recorded = {
                membre.pk: by_seance_membre[(seance.pk, membre.pk)]
                for membre in membres
                if (seance.pk, membre.pk) in by_seance_membre
            }
            if not recorded:
                cells.append(Cell(seance, NOT_RECORDED))
                continue
            covered = _covered(membres, recorded)
            missing = [
                label
                for role, label in (
                    (MembreBinome.Role.ELU, "élu·e"),
                    (MembreBinome.Role.TECHNICIEN, "technicien·ne"),
                )
                if role not in covered
            ]
            cell = Cell(seance, INCOMPLETE if missing else COMPLETE, missing)
            cells.append(cell)
            if missing:
                alerts.append((participant, cell))
        rows.append(Row(participant, cells))
    counts = attended_counts(presences)
    minimum = cycle.seances_min_attestation
    people = [
        Person(membre, counts.get(membre.pk, 0), counts.get(membre.pk, 0) >= minimum)
        for participant in participants
        for membre in participant.membres.all()
    ]
    return CycleAttendance(cycle, seances, participants, presences, rows, alerts, people)


def seance_alerts(seance) -> list[tuple[Participant, list[str]]]:
    """Collectivités whose binôme was incomplete at ``seance`` (recorded ones only)."""
    participants = list(active_participants(seance.cycle_id))
    presences = list(Presence.objects.filter(seance=seance))
    alerts = []
    for participant in participants:
        if binome_complete(participant, seance, presences) is False:
            alerts.append((participant, missing_sides(participant, seance, presences)))
    return alerts


# ---------------------------------------------------------------------------------------------
# The grid as SVG: collectivités × séances

CELL_W, CELL_H, LABEL_W, HEAD_H = 56, 26, 240, 40
FILLS = {COMPLETE: "#2f6b3a", INCOMPLETE: "#b35900", NOT_RECORDED: "#ffffff"}
SYMBOLS = {COMPLETE: "✓", INCOMPLETE: "✗", NOT_RECORDED: "–"}
SYMBOL_FILLS = {COMPLETE: "#ffffff", INCOMPLETE: "#ffffff", NOT_RECORDED: "#555555"}
FONT = 'font-family="DejaVu Sans, Verdana, sans-serif"'


def _text(x, y, content, *, size=11, anchor="start", fill="#1a1a1a", weight="normal") -> str:
    return (
        f'<text x="{x}" y="{y}" {FONT} font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}">{escape(content)}</text>'
    )


def _truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def grid_svg(data: CycleAttendance, chart_id: str = "grille-presences") -> SafeString:
    """The grid as an accessible SVG (role="img", title, desc); the page's table carries the
    same data. States are told by a symbol as well as a colour."""
    legend_h = 34
    width = LABEL_W + CELL_W * max(len(data.seances), 1) + 10
    height = HEAD_H + CELL_H * max(len(data.rows), 1) + legend_h + 10
    parts = []
    for column, seance in enumerate(data.seances):
        x = LABEL_W + column * CELL_W + CELL_W // 2
        parts.append(_text(x, 16, f"S{seance.numero}", anchor="middle", weight="bold"))
        parts.append(_text(x, 32, f"{seance.date:%d/%m}", size=9, anchor="middle", fill="#555"))
    for line, row in enumerate(data.rows):
        y = HEAD_H + line * CELL_H
        parts.append(_text(4, y + 17, _truncate(str(row.participant), 34)))
        for column, cell in enumerate(row.cells):
            x = LABEL_W + column * CELL_W
            parts.append(
                f'<rect x="{x + 2}" y="{y + 2}" width="{CELL_W - 4}" height="{CELL_H - 4}" '
                f'fill="{FILLS[cell.state]}" stroke="#888888" stroke-width="1"/>'
            )
            parts.append(
                _text(
                    x + CELL_W // 2,
                    y + 18,
                    SYMBOLS[cell.state],
                    size=13,
                    anchor="middle",
                    fill=SYMBOL_FILLS[cell.state],
                    weight="bold",
                )
            )
    y = HEAD_H + CELL_H * max(len(data.rows), 1) + 12
    x = 4
    for state in (COMPLETE, INCOMPLETE, NOT_RECORDED):
        parts.append(
            f'<rect x="{x}" y="{y}" width="18" height="18" fill="{FILLS[state]}" '
            f'stroke="#888888" stroke-width="1"/>'
        )
        parts.append(
            _text(x + 9, y + 14, SYMBOLS[state], size=12, anchor="middle", fill=SYMBOL_FILLS[state])
        )
        parts.append(_text(x + 24, y + 14, STATE_LABELS[state]))
        x += 190
    complete = sum(cell.state == COMPLETE for row in data.rows for cell in row.cells)
    incomplete = sum(cell.state == INCOMPLETE for row in data.rows for cell in row.cells)
    title = f"Grille des présences — {data.cycle}"
    desc = (
        f"{len(data.rows)} collectivité{'s' if len(data.rows) > 1 else ''} × "
        f"{len(data.seances)} séance{'s' if len(data.seances) > 1 else ''} : "
        f"{complete} binôme{'s' if complete > 1 else ''} complet{'s' if complete > 1 else ''}, "
        f"{incomplete} incomplet{'s' if incomplete > 1 else ''}."
    )
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="grille-chart" id="{chart_id}" '
        f'role="img" aria-label="{escape(title)}" aria-describedby="{chart_id}-desc" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f"{''.join(parts)}</svg>"
    )


# ---------------------------------------------------------------------------------------------
# XLSX export: one row per person, one column per séance


def attendance_table(data: CycleAttendance) -> tuple[list[str], list[list]]:
    headers = ["Collectivité", "Nom et prénom", "Rôle", "Titulaire / suppléant·e", "E-mail"]
    headers += [f"Séance {s.numero} ({s.date:%d/%m/%Y})" for s in data.seances]
    headers += ["Séances suivies", "Attestation"]
    by_key = {(p.seance_id, p.membre_id): p for p in data.presences}
    names = {m.pk: m.nom for participant in data.participants for m in participant.membres.all()}
    counts = {person.membre.pk: person for person in data.people}
    rows = []
    for participant in data.participants:
        for membre in participant.membres.all():
            row = [
                str(participant),
                membre.nom,
                membre.get_role_display(),
                "Titulaire" if membre.titulaire else "Suppléant·e",
                membre.email,
            ]
            for seance in data.seances:
                presence = by_key.get((seance.pk, membre.pk))
                if presence is None:
                    row.append("")
                elif presence.statut == Presence.Statut.REMPLACE:
                    row.append(f"Remplacé·e par {names.get(presence.remplacant_id, '?')}")
                else:
                    row.append(presence.get_statut_display())
            person = counts[membre.pk]
            row += [person.attended, "oui" if person.eligible else "non"]
            rows.append(row)
    return headers, rows


# ---------------------------------------------------------------------------------------------
# PDFs: the sign-in sheet of a séance, the attendance certificate of a person


def _pdf(template: str, context: dict) -> bytes:
    with translation.override("fr"):
        html = render_to_string(template, context)
    return pdf_from_html(html, base_url=str(settings.BASE_DIR / "static"))


def emargement_context(seance) -> dict:
    groups = []
    for participant in active_participants(seance.cycle_id):
        groups.append(
            {
                "collectivite": str(participant),
                "membres": [
                    {"nom": m.nom, "fonction": m.fonction, "role": membre_label(m)}
                    for m in participant.membres.all()
                ],
            }
        )
    return {
        "seance": seance,
        "cycle": seance.cycle,
        "date": format_date_fr(seance.date),
        # « 9 h 30 », as the e-mails and the rest of the app write times.
        "heures": f"{seance.heure_debut.hour} h {seance.heure_debut.minute:02d} – "
        f"{seance.heure_fin.hour} h {seance.heure_fin.minute:02d}",
        "hote": seance.collectivite_hote.nom if seance.collectivite_hote_id else "",
        "groupes": groups,
    }


def render_emargement_pdf(seance) -> bytes:
    return _pdf("pdf/emargement.html", emargement_context(seance))


def attended_seances(membre) -> list[Seance]:
    """The séances ``membre`` attended (présent·e, or replacing someone), in order."""
    ids = set(
        Presence.objects.filter(membre=membre, statut=Presence.Statut.PRESENT).values_list(
            "seance_id", flat=True
        )
    ) | set(
        Presence.objects.filter(remplacant=membre, statut=Presence.Statut.REMPLACE).values_list(
            "seance_id", flat=True
        )
    )
    return list(Seance.objects.filter(pk__in=ids).order_by("numero"))


def is_eligible(membre, cycle) -> bool:
    return len(attended_seances(membre)) >= cycle.seances_min_attestation


# Why an attestation cannot be issued yet (``attestation_blocker``).
CYCLE_NOT_OVER = "cycle_en_cours"
NOT_ENOUGH = "seances_insuffisantes"


def attestation_blocker(membre, cycle, *, attended=None) -> str | None:
    """None when ``membre``'s attestation can be issued: the cycle is over
    (``services.cycle_is_over``) and they attended enough séances; otherwise
    ``CYCLE_NOT_OVER`` or ``NOT_ENOUGH``. The staff grid and the participant space share it."""
    if not cycle_is_over(cycle):
        return CYCLE_NOT_OVER
    if attended is None:
        attended = len(attended_seances(membre))
    if attended < cycle.seances_min_attestation:
        return NOT_ENOUGH
    return None


def seances_suivies(count: int) -> str:
    """« 1 séance suivie », « 3 séances suivies »."""
    return f"{count} séance{'s' if count > 1 else ''} suivie{'s' if count > 1 else ''}"


def attestation_context(membre, cycle, *, now=None) -> dict:
    appel = cycle.appel
    seances = attended_seances(membre)
    collectivite = membre.participant.candidature.collectivite
    nom, _ = collectivite_names(collectivite)
    total = Seance.objects.filter(cycle=cycle).count()
    return {
        "membre": membre,
        "fonction": membre.fonction,
        "collectivite": nom,
        "cycle": cycle,
        "appel": appel,
        "seances": [
            {"numero": s.numero, "date": format_date_fr(s.date), "lieu": s.lieu} for s in seances
        ],
        "nombre": len(seances),
        "total": total,
        "lieu_date": french_typography(
            f"À {appel.lieu_courrier}, le {format_date_fr(now or timezone.now())}"
        ),
        "signataire_nom": appel.signataire_nom,
        "signataire_fonction": appel.signataire_fonction,
        "signature_src": signature_data_url(appel),
    }


def render_attestation_pdf(membre, cycle, *, now=None) -> bytes:
    return _pdf("pdf/attestation.html", attestation_context(membre, cycle, now=now))
