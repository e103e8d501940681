"""Scoring progress for staff: jurors × submitted dossiers, each cell « à faire »,
« brouillon », « soumise », « non affecté » or « conflit »."""

from collections import Counter
from dataclasses import dataclass

from django.db import models

from candidatures.appels.models import Appel

from .models import Affectation, ConflitInteret, Evaluation
from .ranking import (
    DossierInfo,
    JurorInfo,
    _appel_id,
    _load_dossiers,
    _load_jury,
    is_tied,
)


class Avancement(models.TextChoices):
    A_FAIRE = "a_faire", "À faire"
    BROUILLON = "brouillon", "Brouillon"
    SOUMISE = "soumise", "Soumise"
    CONFLIT = "conflit", "Conflit d'intérêts"
    NON_AFFECTE = "non_affecte", "Non affecté"


# Text beside the colour, so the status never rests on colour alone.
AVANCEMENT_SYMBOLS = {
    Avancement.A_FAIRE: "○",
    Avancement.BROUILLON: "◐",
    Avancement.SOUMISE: "●",
    Avancement.CONFLIT: "⊘",
    Avancement.NON_AFFECTE: "—",
}


@dataclass
class JurorProgress:
    juror: JurorInfo
    counts: dict[str, int]  # Avancement value -> cells

    @property
    def expected(self) -> int:
        """Dossiers the juror can score now (visible to them, as in ``for_juror``)."""
        return sum(
            self.counts.get(status, 0)
            for status in (Avancement.A_FAIRE, Avancement.BROUILLON, Avancement.SOUMISE)
        )

    @property
    def submitted(self) -> int:
        return self.counts.get(Avancement.SOUMISE, 0)

    @property
    def left(self) -> int:
        return self.expected - self.submitted


@dataclass
class DossierProgress:
    dossier: DossierInfo
    cells: list[str]  # Avancement values, aligned with ProgressMatrix.jurors

    @property
    def submitted(self) -> int:
        return self.cells.count(Avancement.SOUMISE)

    @property
    def expected(self) -> int:
        return sum(
            cell in (Avancement.A_FAIRE, Avancement.BROUILLON, Avancement.SOUMISE)
            for cell in self.cells
        )

    @property
    def labelled_cells(self) -> list[tuple[str, str, str]]:
        return [(cell, AVANCEMENT_SYMBOLS[cell], Avancement(cell).label) for cell in self.cells]


@dataclass
class ProgressMatrix:
    mode: str
    jurors: list[JurorProgress]
    rows: list[DossierProgress]

    def status(self, juror_pk: int, dossier_pk: int) -> str:
        column = next(i for i, p in enumerate(self.jurors) if p.juror.pk == juror_pk)
        return next(row.cells[column] for row in self.rows if row.dossier.pk == dossier_pk)

    @property
    def with_work_left(self) -> list[JurorProgress]:
        """The jurors ``jury_services.send_jury_reminders`` would e-mail."""
        return [progress for progress in self.jurors if progress.left > 0]

    @property
    def totals(self) -> dict[str, int]:
        totals = Counter()
        for progress in self.jurors:
            totals.update(progress.counts)
        return {value: totals.get(value, 0) for value in Avancement.values}

    @property
    def submitted_total(self) -> int:
        return sum(progress.submitted for progress in self.jurors)

    @property
    def expected_total(self) -> int:
        return sum(progress.expected for progress in self.jurors)

    @property
    def legend(self) -> list[tuple[str, str, str]]:
        return [(value, AVANCEMENT_SYMBOLS[value], label) for value, label in Avancement.choices]


def progress_matrix(appel) -> ProgressMatrix:
    """Jurors × submitted dossiers, each cell an ``Avancement``, from at most 5 queries.

    Visibility is worked out here rather than with ``for_juror`` (one query set per juror):
    the call's mode, its assignments, the conflict register and the detected ties, the same
    rules in Python. A conflict wins over everything, then « non affecté », then the
    évaluation's status.
    """
    appel_id = _appel_id(appel)
    mode = (
        appel.mode_jury
        if isinstance(appel, Appel)
        else Appel.objects.values_list("mode_jury", flat=True).get(pk=appel_id)
    )
    dossiers = _load_dossiers(appel_id)
    jury = _load_jury(appel_id)
    assigned = None
    if mode == Appel.ModeJury.AFFECTATION:
        assigned = set(
            Affectation.objects.filter(candidature__appel=appel_id)
            .order_by()
            .values_list("candidature_id", "jure_id")
        )
    conflicts = set(
        ConflitInteret.objects.filter(candidature__appel=appel_id)
        .order_by()
        .values_list("candidature_id", "jure_id")
    )
    statuses = {
        (dossier_id, jure_id): statut
        for dossier_id, jure_id, statut in Evaluation.objects.filter(candidature__appel=appel_id)
        .order_by()
        .values_list("candidature_id", "jure_id", "statut")
    }

    counts = [Counter() for _ in jury.jurors]
    rows = []
    for dossier in dossiers.infos:
        cells = []
        for column, juror in enumerate(jury.jurors):
            key = (dossier.pk, juror.pk)
            if key in conflicts or is_tied(
                jury.ties.get(juror.pk), dossiers.collectivites[dossier.pk]
            ):
                cell = Avancement.CONFLIT
            elif assigned is not None and key not in assigned:
                cell = Avancement.NON_AFFECTE
            elif statuses.get(key) == Evaluation.Statut.SOUMISE:
                cell = Avancement.SOUMISE
            elif statuses.get(key) == Evaluation.Statut.BROUILLON:
                cell = Avancement.BROUILLON
            else:
                cell = Avancement.A_FAIRE
            cells.append(cell.value)
            counts[column][cell.value] += 1
        rows.append(DossierProgress(dossier, cells))
    jurors = [
        JurorProgress(juror, dict(count)) for juror, count in zip(jury.jurors, counts, strict=True)
    ]
    return ProgressMatrix(mode=mode, jurors=jurors, rows=rows)
