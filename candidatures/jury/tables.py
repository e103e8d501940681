"""The jury's tables for the exports and the procès-verbal: (French headers, rows of
str / int / float / datetime / None), and the register of conflicts."""

from collections import defaultdict
from datetime import datetime

from django.utils import timezone

from candidatures.dossiers.models import Candidature

from .models import ConflitInteret, Evaluation, Note, Recommandation
from .ranking import (
    Ranking,
    _appel_id,
    _load_jury,
    display_name,
    evaluation_score,
    is_tied,
    load_criteres,
)


def _round(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


def _oui_non(value: bool) -> str:
    return "oui" if value else "non"


def ranking_table(ranking: Ranking) -> tuple[list[str], list[list]]:
    headers = [
        "Rang",
        "Rang (scores z)",
        "Numéro",
        "Collectivité",
        "Nature",
        "Département",
        "Évaluations prises en compte",
        "Moyenne pondérée (/20)",
        "Médiane (/20)",
        "Écart-type (/20)",
        "Minimum (/20)",
        "Maximum (/20)",
        "Score z moyen",
        *[
            f"Moyenne « {c.libelle} » (/{c.note_max}, poids {c.poids_affiche})"
            for c in ranking.criteres
        ],
        *[f"Recommandation « {label} »" for _, label in Recommandation.choices],
        "Désaccord",
        "Motif du désaccord",
    ]
    rows = []
    for row in ranking.rows:
        rows.append(
            [
                row.rank,
                row.rank_z,
                row.dossier.numero,
                row.dossier.collectivite,
                row.dossier.nature,
                row.dossier.departement,
                row.n,
                _round(row.mean),
                _round(row.median),
                _round(row.stdev) if row.n else None,
                _round(row.min),
                _round(row.max),
                _round(row.z_mean, 3),
                *[_round(mean) for mean in row.critere_means],
                *[count for _, _, count in row.tally_items],
                _oui_non(row.disagreement),
                row.disagreement_reason,
            ]
        )
    return headers, rows


def _paris(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return timezone.localtime(value, timezone.get_default_timezone()).replace(tzinfo=None)


def scores_table(appel) -> tuple[list[str], list[list]]:
    """Every évaluation of the call's submitted dossiers, drafts and conflicted ones included
    (the « Prise en compte » column says why one is left out of the ranking), with each note
    and its comment. 5 queries."""
    appel_id = _appel_id(appel)
    criteres = load_criteres(appel_id)
    ties = _load_jury(appel_id).ties
    conflicts = set(
        ConflitInteret.objects.filter(candidature__appel=appel_id)
        .order_by()
        .values_list("candidature_id", "jure_id")
    )
    evaluations = list(
        Evaluation.objects.filter(
            candidature__appel=appel_id, candidature__statut=Candidature.Statut.DEPOSEE
        )
        .order_by("candidature__numero", "jure__last_name", "jure__first_name", "jure__email")
        .values_list(
            "pk",
            "candidature_id",
            "candidature__numero",
            "candidature__collectivite__nom",
            "candidature__collectivite_id",
            "candidature__collectivite__epci_id",
            "jure_id",
            "jure__first_name",
            "jure__last_name",
            "jure__email",
            "statut",
            "submitted_at",
            "updated_at",
            "recommandation",
            "commentaire_prive",
            "retour_collectivite",
        )
    )
    notes: dict[int, dict[int, tuple[int | None, str]]] = defaultdict(dict)
    for evaluation_id, critere_id, valeur, commentaire in (
        Note.objects.filter(evaluation__candidature__appel=appel_id)
        .order_by()
        .values_list("evaluation_id", "critere_id", "valeur", "commentaire")
    ):
        notes[evaluation_id][critere_id] = (valeur, commentaire)

    headers = ["Numéro", "Collectivité", "Juré·e", "E-mail du ou de la juré·e", "Statut"]
    headers += ["Soumise le", "Modifiée le", "Prise en compte"]
    for critere in criteres:
        headers += [
            f"{critere.ordre}. {critere.libelle} (/{critere.note_max}, poids "
            f"{critere.poids_affiche})",
            f"{critere.ordre}. Commentaire",
        ]
    headers += [
        "Score pondéré (/20)",
        "Recommandation",
        "Commentaire pour le jury",
        "Retour pour la collectivité",
    ]
    statut_labels = dict(Evaluation.Statut.choices)
    recommandation_labels = dict(Recommandation.choices)
    rows = []
    for (
        pk,
        dossier_id,
        numero,
        collectivite,
        collectivite_id,
        epci_id,
        jure_id,
        first,
        last,
        email,
        statut,
        submitted_at,
        updated_at,
        recommandation,
        prive,
        retour,
    ) in evaluations:
        own = notes.get(pk, {})
        if (dossier_id, jure_id) in conflicts or is_tied(
            ties.get(jure_id), (collectivite_id, epci_id)
        ):
            counted = "non : conflit d'intérêts"
        elif statut != Evaluation.Statut.SOUMISE:
            counted = "non : brouillon"
        else:
            counted = "oui"
        row = [
            numero,
            collectivite,
            display_name(first, last, email),
            email,
            statut_labels.get(statut, statut),
            _paris(submitted_at),
            _paris(updated_at),
            counted,
        ]
        for critere in criteres:
            valeur, commentaire = own.get(critere.pk, (None, ""))
            row += [valeur, commentaire]
        score = evaluation_score({k: v for k, (v, _) in own.items()}, criteres)
        row += [
            _round(score),
            recommandation_labels.get(recommandation, ""),
            prive,
            retour,
        ]
        rows.append(row)
    return headers, rows


def conflict_register(appel) -> list[dict]:
    """The register of conflicts and recusals of the call's submitted dossiers (1 query)."""
    origine_labels = dict(ConflitInteret.Origine.choices)
    return [
        {
            "numero": numero,
            "collectivite": collectivite,
            "jure": display_name(first, last, email),
            "origine": origine,
            "origine_label": origine_labels.get(origine, origine),
            "motif": motif,
            "created_at": created_at,
        }
        for numero, collectivite, first, last, email, origine, motif, created_at in (
            ConflitInteret.objects.filter(
                candidature__appel=_appel_id(appel),
                candidature__statut=Candidature.Statut.DEPOSEE,
            )
            .order_by("candidature__numero", "jure__last_name", "jure__first_name")
            .values_list(
                "candidature__numero",
                "candidature__collectivite__nom",
                "jure__first_name",
                "jure__last_name",
                "jure__email",
                "origine",
                "motif",
                "created_at",
            )
        )
    ]
