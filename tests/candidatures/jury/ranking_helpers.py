"""Helpers of the jury tests (test_ranking*, test_admin_staff*): a hand-computed example.

The grid has two critères: A weighs 1 and is scored out of 4, B weighs 2 and is scored out of
5, so an évaluation scores (1·a/4 + 2·b/5) / 3 · 20 = (5a + 8b) / 3 on /20. Three jurors score
three dossiers so that each juror's scores are m − d, m, m + d (mean m, sample spread d):

    dossier   Alpha (m 13, d 7)   Bravo (m 13, d 1)   Charlie (m 6, d 6)   mean  median  sd
    001 Lille   20 (4,5) retenir    13 (3,3) retenir    6 (2,1) attente      13    13     7
    002 Amiens  13 (3,3) retenir    14 (2,4) attente   12 (4,2) ne pas ret.  13    13     1
    003 Beauv.   6 (2,1) ne pas r.  12 (4,2) ne pas r.  0 (0,0) ne pas ret.   6     6     6

Delta scored 001 with 0 and « ne pas retenir », then declared a conflict: that évaluation
must leave every aggregate (mean, tally, calibration, distribution).
"""

import zoneinfo
from datetime import datetime

from django.db.models import Q

from candidatures.jury import services as jury_services
from candidatures.models import Candidature, Collectivite, Evaluation, MembreJury, Note
from tests.candidatures.factories import AppelFactory, CritereFactory, numbered
from tests.factories import juror

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


SUBMITTED_AT = datetime(2021, 3, 1, 10, tzinfo=PARIS)


def make_appel(**kwargs):
    """The 2021 edition: closed on 12 March 2021, so scoring is open now."""
    kwargs.setdefault("slug", "2021")
    kwargs.setdefault("seuil_desaccord", "6.5")
    return AppelFactory(edition_2021=True, **kwargs)


def make_grid(appel):
    return (
        CritereFactory(
            appel=appel, ordre=1, libelle="Dynamique de transition", poids=1, note_max=4
        ),
        CritereFactory(appel=appel, ordre=2, libelle="Motivation des élu·es", poids=2, note_max=5),
    )


def deposer(appel, code, number):
    lookup = {"siren": code} if len(code) == 9 else {"insee": code}
    return Candidature.objects.create(
        appel=appel,
        collectivite=Collectivite.objects.get(**lookup),
        statut=Candidature.Statut.DEPOSEE,
        numero=numbered(appel, number),
        deposee_at=SUBMITTED_AT,
    )


def member(appel, first_name, last_name, collectivite=None, qualite=""):
    user = juror(
        first_name=first_name,
        last_name=last_name,
        email=f"{first_name.lower()}.{last_name.lower()}@jury.test",
    )
    MembreJury.objects.create(appel=appel, user=user, collectivite=collectivite, qualite=qualite)
    return user


def score(dossier, jure, a, b, recommandation="", *, submit=True):
    one, two = dossier.appel.criteres.order_by("ordre")
    return jury_services.save_evaluation(
        candidature=dossier,
        jure=jure,
        notes={one: (a, f"A vaut {a}"), two: (b, "")},
        recommandation=recommandation,
        commentaire_prive="Note pour le jury.",
        submit=submit,
    )


def hand_example():
    """The call of the module docstring; returns (appel, dossiers, jurors) by short names."""
    appel = make_appel()
    make_grid(appel)
    d1 = deposer(appel, "59350", 1)  # Lille
    d2 = deposer(appel, "80021", 2)  # Amiens
    d3 = deposer(appel, "60057", 3)  # Beauvais
    alpha = member(appel, "Anne", "Alpha", qualite="Élue régionale")
    bravo = member(appel, "Bruno", "Bravo")
    charlie = member(appel, "Chloé", "Charlie")
    delta = member(appel, "Denis", "Delta")
    for dossier, scores in (
        (d1, [(4, 5, "retenir"), (3, 3, "retenir"), (2, 1, "attente")]),
        (d2, [(3, 3, "retenir"), (2, 4, "attente"), (4, 2, "ne_pas_retenir")]),
        (d3, [(2, 1, "ne_pas_retenir"), (4, 2, "ne_pas_retenir"), (0, 0, "ne_pas_retenir")]),
    ):
        for jure, (a, b, recommandation) in zip((alpha, bravo, charlie), scores, strict=True):
            score(dossier, jure, a, b, recommandation)
    score(d1, delta, 0, 0, "ne_pas_retenir")
    jury_services.declare_conflict(
        candidature=d1, jure=delta, motif="Mon conjoint travaille à Lille."
    )
    score(d2, delta, 1, None, submit=False)  # a draft: never counted
    return (
        appel,
        {"d1": d1, "d2": d2, "d3": d3},
        {"alpha": alpha, "bravo": bravo, "charlie": charlie, "delta": delta},
    )


def bulk_dossiers(appel, count, jurors, *, start=100):
    """``count`` more submitted dossiers, each scored and submitted by every juror in
    ``jurors`` (bulk inserts: no history, no service, just rows for the query counts)."""
    criteres = list(appel.criteres.order_by("ordre"))
    taken = Candidature.objects.filter(appel=appel).values("collectivite")
    communes = list(
        Collectivite.objects.filter(nature=Collectivite.Nature.COMMUNE, active=True)
        .exclude(pk__in=taken)
        .exclude(Q(epci__isnull=True))
        .order_by("insee")[:count]
    )
    dossiers = Candidature.objects.bulk_create(
        [
            Candidature(
                appel=appel,
                collectivite=commune,
                statut=Candidature.Statut.DEPOSEE,
                numero=numbered(appel, start + i),
                deposee_at=SUBMITTED_AT,
            )
            for i, commune in enumerate(communes)
        ]
    )
    evaluations = Evaluation.objects.bulk_create(
        [
            Evaluation(
                candidature=dossier,
                jure=jure,
                statut=Evaluation.Statut.SOUMISE,
                submitted_at=SUBMITTED_AT,
                recommandation=("retenir", "attente", "ne_pas_retenir")[(i + j) % 3],
            )
            for i, dossier in enumerate(dossiers)
            for j, jure in enumerate(jurors)
        ]
    )
    Note.objects.bulk_create(
        [
            Note(evaluation=evaluation, critere=critere, valeur=(i + k) % (critere.note_max + 1))
            for i, evaluation in enumerate(evaluations)
            for k, critere in enumerate(criteres)
        ]
    )
    return dossiers


def rows_by_numero(result):
    return {row.dossier.numero: row for row in result.rows}


def submitted_counts(matrix) -> dict[str, int]:
    return {row.dossier.numero: row.cells.count("soumise") for row in matrix.rows}
