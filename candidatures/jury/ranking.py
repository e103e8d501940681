"""Jury aggregates for staff: ranking, per-juror calibration, score distributions, progress.

Pure computation over ``values_list()`` rows: no model instance per note, and a fixed number
of queries whatever the number of dossiers, jurors or critères (5 for ``build_ranking``, at
most 5 for ``progress_matrix``, 5 for ``scores_table``). Nothing here writes to the database.

Which évaluations count: submitted ones (``Evaluation.objects.counted()``) of pairs the juror
may still score, the rule of ``CandidatureQuerySet.for_juror``: the juror still sits on the
jury, the dossier is assigned to them when the call assigns dossiers, and they are not in
conflict with it, whether the conflict is in the register or only detectable from the jury's
collectivités (same collectivité, or a commune and its EPCI), so a register not yet refreshed
hides nothing. The ranking and the progress matrix therefore agree.

Statistics: the spread is the *sample* standard deviation (n - 1 denominator) when a dossier
has at least two évaluations, 0 otherwise; the median of an even count is the mean of the two
middle values.
"""

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import models

from candidatures.appels.models import Appel, Collectivite, Critere
from candidatures.dossiers.models import Candidature

from .models import Affectation, Evaluation, MembreJury, Note, Recommandation

SCALE = 20  # every évaluation is brought to a score out of 20


# ---------------------------------------------------------------------------------------------
# Rows read from the database


@dataclass(frozen=True)
class CritereInfo:
    pk: int
    ordre: int
    libelle: str
    poids: float
    note_max: int

    @property
    def poids_affiche(self) -> str:
        """« 1 », « 1,5 »: the weight as staff typed it, French decimal comma."""
        text = f"{self.poids:.2f}".rstrip("0").rstrip(".")
        return text.replace(".", ",")


@dataclass(frozen=True)
class JurorInfo:
    pk: int
    name: str
    email: str
    qualite: str = ""
    collectivite: str = ""
    # Always True since only members' évaluations count; kept for the procès-verbal template.
    member: bool = True


@dataclass(frozen=True)
class DossierInfo:
    pk: int
    numero: str
    collectivite: str
    nature: str
    departement: str


def display_name(first_name: str, last_name: str, email: str) -> str:
    name = f"{first_name or ''} {last_name or ''}".strip()
    return name or email


def _nature_label(nature: str, type_epci: str) -> str:
    if nature == Collectivite.Nature.COMMUNE:
        return Collectivite.Nature.COMMUNE.label
    return Collectivite.TypeEpci(type_epci).label if type_epci else Collectivite.Nature.EPCI.label


def _appel_id(appel) -> int:
    return appel.pk if isinstance(appel, Appel) else int(appel)


def load_criteres(appel) -> list[CritereInfo]:
    return [
        CritereInfo(pk, ordre, libelle, float(poids), note_max)
        for pk, ordre, libelle, poids, note_max in Critere.objects.filter(appel=_appel_id(appel))
        .order_by("ordre", "pk")
        .values_list("pk", "ordre", "libelle", "poids", "note_max")
    ]


@dataclass(frozen=True)
class _Dossiers:
    infos: list[DossierInfo]
    # dossier pk -> (collectivité pk, its EPCI pk or None), for the conflict rule
    collectivites: dict[int, tuple[int, int | None]]


def _load_dossiers(appel_id: int) -> _Dossiers:
    infos, collectivites = [], {}
    rows = (
        Candidature.objects.filter(appel=appel_id)
        .deposees()
        .order_by("numero", "pk")
        .values_list(
            "pk",
            "numero",
            "collectivite__nom",
            "collectivite__nature",
            "collectivite__type_epci",
            "collectivite__departement",
            "collectivite_id",
            "collectivite__epci_id",
        )
    )
    for pk, numero, nom, nature, type_epci, departement, coll_id, epci_id in rows:
        infos.append(DossierInfo(pk, numero, nom, _nature_label(nature, type_epci), departement))
        collectivites[pk] = (coll_id, epci_id)
    return _Dossiers(infos, collectivites)


@dataclass(frozen=True)
class _Jury:
    jurors: list[JurorInfo]
    # juror pk -> (their collectivité pk, its EPCI pk or None) when they belong to one
    ties: dict[int, tuple[int, int | None]]


def _load_jury(appel_id: int) -> _Jury:
    jurors, ties = [], {}
    rows = (
        MembreJury.objects.filter(appel=appel_id)
        .order_by("user__last_name", "user__first_name", "user__email")
        .values_list(
            "user_id",
            "user__first_name",
            "user__last_name",
            "user__email",
            "qualite",
            "collectivite_id",
            "collectivite__epci_id",
            "collectivite__nom",
        )
    )
    for user_id, first, last, email, qualite, coll_id, epci_id, coll_nom in rows:
        jurors.append(
            JurorInfo(user_id, display_name(first, last, email), email, qualite, coll_nom or "")
        )
        if coll_id:
            ties[user_id] = (coll_id, epci_id)
    return _Jury(jurors, ties)


def is_tied(juror_tie: tuple[int, int | None] | None, dossier_coll: tuple[int, int | None]):
    """The detected-conflict rule of ``for_juror`` and ``jury_services.related_pairs``: the juror
    belongs to the candidate collectivité, to its EPCI, or to a commune of the candidate EPCI."""
    if juror_tie is None:
        return False
    own, own_epci = juror_tie
    theirs, their_epci = dossier_coll
    return theirs == own or their_epci == own or (own_epci is not None and theirs == own_epci)


# ---------------------------------------------------------------------------------------------
# Scores


def evaluation_score(notes: Mapping[int, int | None], criteres: Sequence) -> float | None:
    """One évaluation on /20: sum(w_i * v_i / max_i) / sum(w_i) * 20.

    ``notes`` maps a critère's pk to its value; ``criteres`` are ``Critere`` or ``CritereInfo``
    (``pk``, ``poids``, ``note_max``). A critère without a value (added to the grid after the
    évaluation was submitted) is left out of both sums, so the score stays on /20; None when
    no critère has a value.
    """
    weighted, weights = 0.0, 0.0
    for critere in criteres:
        value = notes.get(critere.pk)
        if value is None:
            continue
        weight = float(critere.poids)
        weighted += weight * value / critere.note_max
        weights += weight
    if not weights:
        return None
    return weighted / weights * SCALE


def _stdev(values: Sequence[float]) -> float:
    """Sample standard deviation, 0 below two values. Plain floats: ``statistics.stdev``
    computes with exact fractions, and was most of the ranking's time on 500 dossiers."""
    count = len(values)
    if count < 2:
        return 0.0
    mean = math.fsum(values) / count
    return math.sqrt(math.fsum((value - mean) ** 2 for value in values) / (count - 1))


# ---------------------------------------------------------------------------------------------
# Ranking


@dataclass
class RankingRow:
    dossier: DossierInfo
    scores: list[float]  # one per counted évaluation, /20
    critere_means: list[float | None]  # aligned with Ranking.criteres, on each critère's scale
    tally: dict[str, int]  # Recommandation value -> count
    n: int = 0
    mean: float | None = None
    median: float | None = None
    stdev: float = 0.0
    min: float | None = None
    max: float | None = None
    z_mean: float | None = None
    disagreement: bool = False
    disagreement_reasons: list[str] = field(default_factory=list)
    rank: int | None = None
    rank_z: int | None = None

    disagreement_kinds: list[str] = field(default_factory=list)  # short form, for the PV

    @property
    def disagreement_reason(self) -> str:
        return " ; ".join(self.disagreement_reasons)

    @property
    def disagreement_short(self) -> str:
        return " ; ".join(self.disagreement_kinds)

    @property
    def tally_items(self) -> list[tuple[str, str, int]]:
        """(value, French label, count) for every recommendation, in the grid's order."""
        return [(value, label, self.tally.get(value, 0)) for value, label in Recommandation.choices]


@dataclass
class Calibration:
    """How one juror scores: their mean, spread and range over the dossiers they scored."""

    juror: JurorInfo
    n: int
    mean: float | None
    stdev: float
    min: float | None
    max: float | None
    gap: float | None  # their mean minus the mean of every counted évaluation


@dataclass
class Distribution:
    critere: CritereInfo
    counts: list[int]  # counts[v] = notes of value v, 0..note_max
    n: int
    mean: float | None

    @property
    def bars(self) -> list[tuple[int, int]]:
        return list(enumerate(self.counts))


@dataclass
class Ranking:
    appel_id: int
    seuil: float
    criteres: list[CritereInfo]
    rows: list[RankingRow]  # by weighted mean, best first; unscored dossiers last
    calibration: list[Calibration]
    distributions: list[Distribution]
    evaluations: int  # counted évaluations
    overall_mean: float | None

    @property
    def rows_by_z(self) -> list[RankingRow]:
        """The alternative order: mean z-score, which cancels each juror's severity."""
        return sorted(self.rows, key=_z_sort_key)

    @property
    def flagged(self) -> list[RankingRow]:
        return [row for row in self.rows if row.disagreement]

    @property
    def tally_total(self) -> list[tuple[str, str, int]]:
        totals = Counter()
        for row in self.rows:
            totals.update(row.tally)
        return [(value, label, totals.get(value, 0)) for value, label in Recommandation.choices]


def _mean_sort_key(row: RankingRow):
    # Unscored last; then weighted mean, median, spread (agreement first), number.
    if row.mean is None:
        return (1, 0.0, 0.0, 0.0, row.dossier.numero)
    return (0, -round(row.mean, 9), -round(row.median, 9), round(row.stdev, 9), row.dossier.numero)


def _z_sort_key(row: RankingRow):
    if row.z_mean is None:
        return (1, 0.0, row.dossier.numero)
    return (0, -round(row.z_mean, 9), row.dossier.numero)


def _competition_ranks(rows: list[RankingRow], value, attribute: str) -> None:
    """1, 2, 2, 4: equal values share a rank; unscored rows get none."""
    previous, previous_rank = None, 0
    for position, row in enumerate(rows, start=1):
        current = value(row)
        if current is None:
            setattr(row, attribute, None)
            continue
        current = round(current, 9)
        rank = previous_rank if current == previous else position
        setattr(row, attribute, rank)
        previous, previous_rank = current, rank


def _counted_evaluations(appel_id: int, dossiers: _Dossiers, jury: _Jury):
    """(evaluation pk, dossier pk, juror pk, recommandation) of counted évaluations.

    Only pairs the juror may still score count (the rule of ``for_juror``): a juror removed
    from the jury, or whose assignment was deleted when the call assigns dossiers, no longer
    sees the dossier, so their évaluation leaves the ranking as it leaves the progress matrix.
    """
    member = MembreJury.objects.filter(appel=appel_id, user=models.OuterRef("jure"))
    assigned = Affectation.objects.filter(
        candidature=models.OuterRef("candidature"), jure=models.OuterRef("jure")
    )
    rows = (
        Evaluation.objects.counted()
        .filter(candidature__appel=appel_id, candidature__statut=Candidature.Statut.DEPOSEE)
        .filter(models.Exists(member))
        .filter(
            models.Q(candidature__appel__mode_jury=Appel.ModeJury.TOUS) | models.Exists(assigned)
        )
        .order_by()
        .values_list("pk", "candidature_id", "jure_id", "recommandation")
    )
    kept = []
    for pk, dossier_id, jure_id, recommandation in rows:
        if is_tied(jury.ties.get(jure_id), dossiers.collectivites[dossier_id]):
            continue  # a tie not yet in the register is still a conflict
        kept.append((pk, dossier_id, jure_id, recommandation))
    return kept


def build_ranking(appel) -> Ranking:
    """Every submitted dossier of ``appel`` with its aggregates, the jurors' calibration and
    the distribution of notes per critère, from 5 queries."""
    appel_id = _appel_id(appel)
    seuil = (
        float(appel.seuil_desaccord)
        if isinstance(appel, Appel)
        else float(Appel.objects.values_list("seuil_desaccord", flat=True).get(pk=appel_id))
    )
    criteres = load_criteres(appel_id)
    dossiers = _load_dossiers(appel_id)
    jury = _load_jury(appel_id)
    evaluations = _counted_evaluations(appel_id, dossiers, jury)

    notes_by_evaluation: dict[int, dict[int, int | None]] = defaultdict(dict)
    # order_by(): the models' default orderings would join and sort five tables for nothing.
    note_rows = (
        Note.objects.filter(
            evaluation__candidature__appel=appel_id, evaluation__statut=Evaluation.Statut.SOUMISE
        )
        .order_by()
        .values_list("evaluation_id", "critere_id", "valeur")
    )
    for evaluation_id, critere_id, valeur in note_rows:
        notes_by_evaluation[evaluation_id][critere_id] = valeur

    index = {critere.pk: position for position, critere in enumerate(criteres)}
    distribution_counts = [[0] * (critere.note_max + 1) for critere in criteres]
    per_dossier: dict[int, list[tuple[int, float, str]]] = defaultdict(list)  # (juror, score, rec)
    critere_values: dict[int, list[list[int]]] = {}
    for evaluation_id, dossier_id, jure_id, recommandation in evaluations:
        notes = notes_by_evaluation.get(evaluation_id, {})
        score = evaluation_score(notes, criteres)
        if score is None:
            continue
        per_dossier[dossier_id].append((jure_id, score, recommandation))
        values = critere_values.setdefault(dossier_id, [[] for _ in criteres])
        for critere_id, valeur in notes.items():
            position = index.get(critere_id)
            if position is None or valeur is None:
                continue
            values[position].append(valeur)
            if valeur <= criteres[position].note_max:
                distribution_counts[position][valeur] += 1

    # Calibration first: z-scores need each juror's mean and spread.
    by_juror: dict[int, list[float]] = defaultdict(list)
    for scored in per_dossier.values():
        for jure_id, score, _ in scored:
            by_juror[jure_id].append(score)
    all_scores = [score for scores in by_juror.values() for score in scores]
    overall = statistics.fmean(all_scores) if all_scores else None
    juror_stats = {
        jure_id: (statistics.fmean(scores), _stdev(scores)) for jure_id, scores in by_juror.items()
    }

    rows = []
    for dossier in dossiers.infos:
        scored = per_dossier.get(dossier.pk, [])
        scores = [score for _, score, _ in scored]
        tally = Counter(rec for _, _, rec in scored if rec)
        values = critere_values.get(dossier.pk)
        row = RankingRow(
            dossier=dossier,
            scores=scores,
            critere_means=[
                statistics.fmean(v) if values and v else None
                for v in (values or [[] for _ in criteres])
            ],
            tally=dict(tally),
            n=len(scores),
        )
        if scores:
            row.mean = statistics.fmean(scores)
            row.median = statistics.median(scores)
            row.stdev = _stdev(scores)
            row.min, row.max = min(scores), max(scores)
            zs = []
            for jure_id, score, _ in scored:
                mean, spread = juror_stats[jure_id]
                # A juror who gave one score, or the same score everywhere, carries no
                # information about their severity: their z-score is 0.
                zs.append((score - mean) / spread if spread > 0 else 0.0)
            row.z_mean = statistics.fmean(zs)
            if row.stdev > seuil:
                row.disagreement_reasons.append(
                    f"écart-type {format_fr(row.stdev)} supérieur au seuil de {format_fr(seuil, 1)}"
                )
                row.disagreement_kinds.append(f"écart-type {format_fr(row.stdev)}")
            if tally.get(Recommandation.RETENIR) and tally.get(Recommandation.NE_PAS_RETENIR):
                row.disagreement_reasons.append(
                    "recommandations opposées (« retenir » et « ne pas retenir »)"
                )
                row.disagreement_kinds.append("recommandations opposées")
            row.disagreement = bool(row.disagreement_reasons)
        rows.append(row)

    rows.sort(key=_mean_sort_key)
    _competition_ranks(rows, lambda r: r.mean, "rank")
    _competition_ranks(sorted(rows, key=_z_sort_key), lambda r: r.z_mean, "rank_z")

    calibration_jurors = list(jury.jurors)
    calibration = []
    for juror in calibration_jurors:
        scores = by_juror.get(juror.pk, [])
        mean = statistics.fmean(scores) if scores else None
        calibration.append(
            Calibration(
                juror=juror,
                n=len(scores),
                mean=mean,
                stdev=_stdev(scores),
                min=min(scores) if scores else None,
                max=max(scores) if scores else None,
                gap=mean - overall if mean is not None and overall is not None else None,
            )
        )

    distributions = []
    for critere, counts in zip(criteres, distribution_counts, strict=True):
        total = sum(counts)
        mean = sum(value * count for value, count in enumerate(counts)) / total if total else None
        distributions.append(Distribution(critere, counts, total, mean))

    return Ranking(
        appel_id=appel_id,
        seuil=seuil,
        criteres=criteres,
        rows=rows,
        calibration=calibration,
        distributions=distributions,
        evaluations=len(all_scores),
        overall_mean=overall,
    )


def format_fr(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}".replace(".", ",")
