"""The needs survey the call promises before the first séance: each participant ranks the
call's eight « idées incontournables » and says, in its own words, what else it wants.

Services (one transaction each, keyword-only, French ValidationError messages), the
aggregation staff read (count of choices and a Borda score per theme) and its SVG chart.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from cerdd_ami import svg
from cerdd_ami.emails import build_email, send_on_commit, site_url
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.svg import GREEN, GRID, INK, MUTED
from cycle.participants.models import Participant
from cycle.sondage.models import THEMES_APPEL, ChoixTheme, ReponseSondage

THEME_LABELS = dict(THEMES_APPEL)
THEME_ORDER = {key: position for position, (key, _label) in enumerate(THEMES_APPEL)}
MAX_RANK = len(THEMES_APPEL)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count <= 1 else (plural or singular + 's')}"


def check_ranking(ranked_themes) -> list[str]:
    """The ranking as a clean list (rank 1 first), or a ValidationError in French."""
    themes = [str(theme).strip() for theme in ranked_themes or []]
    if not themes:
        raise ValidationError("Classez au moins un thème.", code="empty")
    if len(themes) > MAX_RANK:
        raise ValidationError(
            f"Vous ne pouvez classer que {MAX_RANK} thèmes au plus.", code="too_many"
        )
    unknown = [theme for theme in themes if theme not in THEME_LABELS]
    if unknown:
        raise ValidationError(
            "Thème inconnu : %(themes)s. Choisissez parmi les thèmes proposés.",
            code="unknown",
            params={"themes": ", ".join(unknown)},
        )
    if len(set(themes)) != len(themes):
        raise ValidationError("Chaque thème ne peut être classé qu'une fois.", code="duplicate")
    return themes


def survey_closes_at(cycle) -> datetime | None:
    """When the survey closes: the start of the cycle's first séance (``Seance.starts_at``:
    its date and starting time, in Paris); None for a cycle without séances."""
    first = cycle.seances.by_start().first()
    return first.starts_at if first is not None else None


def survey_is_open(cycle, now=None) -> bool:
    closes_at = survey_closes_at(cycle)
    return closes_at is None or (now or timezone.now()) < closes_at


def closed_message(closes_at: datetime) -> str:
    return (
        "Le sondage est clos : la première séance a commencé le "
        f"{format_datetime_fr(closes_at)}. "
        "Les réponses ne peuvent plus être envoyées ni modifiées."
    )


def _may_answer(user, participant) -> bool:
    if not (user and user.is_authenticated and user.is_active):
        return False
    # Staff may type in an answer received by phone or on paper.
    return user.is_staff or Participant.objects.of_user(user).filter(pk=participant.pk).exists()


@transaction.atomic
def submit_survey(
    *, participant, user, ranked_themes: list[str], suggestions="", attentes="", now=None
) -> ReponseSondage:
    """Record (or replace) a participant's answer to the needs survey.

    ``ranked_themes`` lists 1 to 8 distinct theme keys of THEMES_APPEL, rank 1 first.
    Refused: PermissionDenied for someone who is neither one of the participant's people nor
    staff; ValidationError (French) for an empty, too long, unknown or repeated ranking, a
    participant who has left the cycle, or once the first séance has started (Paris time,
    its date and starting time; code ``closed``), staff included.
    Side effects: one ReponseSondage per participant (updated in place, submitted_at and
    submitted_by refreshed) and its ChoixTheme rows, all replaced. No e-mail.
    """
    themes = check_ranking(ranked_themes)
    if not _may_answer(user, participant):
        raise PermissionDenied("Vous ne faites pas partie de cette collectivité participante.")
    # The participant row serialises two référent·es answering at the same time.
    locked = Participant.objects.select_for_update().get(pk=participant.pk)
    if locked.statut == Participant.Statut.RETIRE:
        raise ValidationError(
            "Cette collectivité s'est retirée du cycle : le sondage est clos pour elle.",
            code="withdrawn",
        )
    now = now or timezone.now()
    closes_at = survey_closes_at(locked.cycle)
    if closes_at is not None and now >= closes_at:
        raise ValidationError(closed_message(closes_at), code="closed")
    reponse, _created = ReponseSondage.objects.update_or_create(
        participant=locked,
        defaults={
            "suggestions": (suggestions or "").strip(),
            "attentes": (attentes or "").strip(),
            "submitted_at": now,
            "submitted_by": user,
        },
    )
    reponse.choix.all().delete()
    ChoixTheme.objects.bulk_create(
        ChoixTheme(reponse=reponse, theme=theme, rang=rank)
        for rank, theme in enumerate(themes, start=1)
    )
    return reponse


# ---------------------------------------------------------------------------------------------
# Results, staff side


@dataclass
class ThemeResult:
    theme: str
    label: str
    count: int = 0  # participants who ranked it at all
    borda: int = 0  # rank 1 earns 8 points … rank 8 earns 1
    ranks: list[int] = field(default_factory=lambda: [0] * MAX_RANK)  # how often at each rank

    @property
    def first_choices(self) -> int:
        return self.ranks[0]


def borda_points(rang: int) -> int:
    return MAX_RANK + 1 - rang


def survey_results(cycle) -> list[ThemeResult]:
    """One row per theme, by Borda score, then number of choices, then the call's order.

    Only active participants count: a collectivité that left the cycle no longer shapes it."""
    rows = {key: ThemeResult(theme=key, label=label) for key, label in THEMES_APPEL}
    choices = ChoixTheme.objects.filter(
        reponse__participant__cycle=cycle,
        reponse__participant__in=Participant.objects.actifs(),
    ).values_list("theme", "rang")
    for theme, rang in choices:
        row = rows.get(theme)
        if row is None or not 1 <= rang <= MAX_RANK:
            continue
        row.count += 1
        row.borda += borda_points(rang)
        row.ranks[rang - 1] += 1
    return sorted(rows.values(), key=lambda r: (-r.borda, -r.count, THEME_ORDER[r.theme]))


def answers(cycle):
    """Answers of the cycle's active participants, by collectivité name."""
    return (
        ReponseSondage.objects.filter(participant__cycle=cycle)
        .filter(participant__in=Participant.objects.actifs())
        .select_related("participant__candidature__collectivite", "submitted_by")
        .prefetch_related("choix")
        .order_by("participant__candidature__collectivite__nom")
    )


def non_respondents(cycle):
    """Active participants of the cycle who have not answered, by collectivité name."""
    return (
        Participant.objects.filter(cycle=cycle)
        .actifs()
        .filter(sondage__isnull=True)
        .select_related("candidature__collectivite")
        .order_by("candidature__collectivite__nom")
    )


def recipients(participant) -> list[str]:
    """Who is asked to answer for a participant: its titular binôme, then its référent·es."""
    emails = [
        member.email for member in participant.membres.all() if member.titulaire and member.email
    ]
    emails += participant.candidature.referent_emails()
    unique: list[str] = []
    for email in emails:
        if email.lower() not in {known.lower() for known in unique}:
            unique.append(email)
    return unique


def survey_url(participant) -> str:
    try:
        path = reverse("cycle:sondage", kwargs={"participant_pk": participant.pk})
    except NoReverseMatch:
        # The participant space is wired by cycle/urls.py; until then, the site's home page.
        path = reverse("candidatures:home")
    return site_url(path)


@transaction.atomic
def remind_survey(*, cycle, staff_user) -> int:
    """E-mail every active participant who has not answered the survey; returns how many.

    Refused: PermissionDenied for non-staff. Side effects: one e-mail per participant, to its
    titular binôme and référent·es together, sent after commit. Nothing is recorded: staff
    may remind again.
    """
    if not (staff_user and staff_user.is_active and staff_user.is_staff):
        raise PermissionDenied("Seule l'équipe du Cerdd peut relancer le sondage.")
    reminded = 0
    first = cycle.seances.order_by("numero").first()
    for participant in non_respondents(cycle).prefetch_related("membres"):
        to = recipients(participant)
        if not to:
            continue
        context = {
            "cycle": cycle,
            "participant": participant,
            "collectivite": participant.candidature.collectivite,
            "premiere_seance": first,
            "url": survey_url(participant),
            "contact": cycle.appel,
        }
        send_on_commit(
            build_email("relance_sondage", context, to=to, reply_to=[cycle.appel.contact_email])
        )
        reminded += 1
    return reminded


# ---------------------------------------------------------------------------------------------
# Chart

ROW_H = 24
LABEL_W = 330
PLOT_W = 300
MARGIN_R = 150


def results_svg(rows: list[ThemeResult], respondents: int, chart_id: str) -> SafeString:
    """One horizontal bar per theme: its Borda score, with the number of participants who
    chose it; in the order of the table beside it."""
    top, bottom = 28, 16
    width = LABEL_W + PLOT_W + MARGIN_R
    height = top + bottom + ROW_H * max(len(rows), 1)
    highest = max((row.borda for row in rows), default=0) or 1
    parts = [
        svg.text(LABEL_W, 16, "score de Borda (rang 1 = 8 points … rang 8 = 1 point)", fill=MUTED)
    ]
    parts.append(
        f'<line x1="{LABEL_W}" x2="{LABEL_W}" y1="{top - 4}" y2="{svg.n(height - bottom)}" '
        f'stroke="{GRID}" stroke-width="1"/>'
    )
    for position, row in enumerate(rows):
        y = top + position * ROW_H
        middle = y + ROW_H / 2
        label = f"{position + 1}. {row.label}"
        parts.append(svg.text(LABEL_W - 8, middle + 4, svg.truncate(label, 52), anchor="end"))
        bar_w = row.borda / highest * PLOT_W
        if bar_w:
            parts.append(
                f'<rect x="{LABEL_W}" y="{svg.n(y + 5)}" width="{svg.n(bar_w)}" '
                f'height="{ROW_H - 10}" fill="{GREEN}"/>'
            )
        parts.append(
            svg.text(
                LABEL_W + bar_w + 6,
                middle + 4,
                f"{row.borda} pts · {_plural(row.count, 'choix', 'choix')}",
                fill=INK,
            )
        )
    title = "Sondage des besoins : thèmes classés par score de Borda"
    if respondents and rows and rows[0].borda:
        desc = (
            f"{_plural(respondents, 'réponse')}. Pour chaque thème, le score de Borda (un thème "
            "classé 1er rapporte 8 points, 8e 1 point) et le nombre de participants qui l'ont "
            f"choisi. En tête : {rows[0].label}, {rows[0].borda} points, "
            f"{_plural(rows[0].count, 'choix', 'choix')}."
        )
    else:
        desc = "Aucune réponse au sondage pour l'instant."
    return svg.svg(chart_id, title, desc, width, height, "".join(parts))
