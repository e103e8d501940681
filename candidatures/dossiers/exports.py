"""The dossiers' spreadsheet export (CSV for Excel FR, XLSX), used by the admin actions.

``candidatures_rows`` turns a queryset into French headers and an iterator of rows: one
column per field of the product's form and per question of the calls' questionnaires (files
as names and SHA-256), dates in Europe/Paris. It runs a constant number of
queries whatever the number of dossiers, and reads them in chunks, so the responses can be
streamed by ``cerdd_ami.spreadsheets``.
"""

from collections.abc import Iterator

from candidatures.questionnaires.models import Question
from cerdd_ami.spreadsheets import oui_non, paris_naive

from .answers import QUESTIONNAIRE_PREFETCH, files_text


def _nature(candidature) -> str:
    collectivite = candidature.collectivite
    if collectivite.nature == collectivite.Nature.COMMUNE:
        return collectivite.get_nature_display()
    return collectivite.get_type_epci_display()


# (French header, how to read the value from a candidature), in the order of the form; the
# questionnaire's columns go before the commitments (QUESTIONS_AT).
COLUMNS = [
    ("Numéro", lambda c: c.numero),
    ("Statut", lambda c: c.get_statut_display()),
    ("Appel", lambda c: c.appel.titre),
    ("Collectivité", lambda c: c.collectivite.nom),
    ("Nature", _nature),
    ("Code INSEE", lambda c: c.collectivite.insee),
    ("SIREN", lambda c: c.collectivite.siren),
    ("Département", lambda c: c.collectivite.departement),
    ("EPCI de rattachement", lambda c: c.collectivite.epci.nom if c.collectivite.epci else ""),
    ("Créée le", lambda c: paris_naive(c.created_at)),
    ("Modifiée le", lambda c: paris_naive(c.updated_at)),
    ("Déposée le", lambda c: paris_naive(c.deposee_at)),
    ("Prolongation accordée jusqu'au", lambda c: paris_naive(c.prolongation_jusqu_au)),
    ("Adresse postale", lambda c: c.adresse),
    ("Code postal", lambda c: c.code_postal),
    ("Ville", lambda c: c.ville),
    ("Téléphone de la collectivité", lambda c: c.telephone),
    ("E-mail de la collectivité", lambda c: c.email_contact),
    ("Référent·e politique : nom et prénom", lambda c: c.ref_pol_nom),
    ("Référent·e politique : fonction", lambda c: c.ref_pol_fonction),
    ("Référent·e politique : e-mail", lambda c: c.ref_pol_email),
    ("Référent·e politique : téléphone", lambda c: c.ref_pol_telephone),
    ("Référent·e technique : nom et prénom", lambda c: c.ref_tech_nom),
    ("Référent·e technique : fonction", lambda c: c.ref_tech_fonction),
    ("Référent·e technique : e-mail", lambda c: c.ref_tech_email),
    ("Référent·e technique : téléphone", lambda c: c.ref_tech_telephone),
    ("Point contact technique : nom et prénom", lambda c: c.contact_nom),
    ("Point contact technique : fonction", lambda c: c.contact_fonction),
    ("Point contact technique : e-mail", lambda c: c.contact_email),
    ("Point contact technique : téléphone", lambda c: c.contact_telephone),
    (
        "Engagement : binôme élu·e / technicien·ne à chaque journée",
        lambda c: oui_non(c.engagement_binome),
    ),
    (
        "Engagement : expérimenter sur le territoire",
        lambda c: oui_non(c.engagement_experimentation),
    ),
    ("Consentement au traitement des données", lambda c: oui_non(c.consentement_donnees)),
]

QUESTIONS_AT = len(COLUMNS) - 3
CHUNK_SIZE = 500


def question_columns(queryset) -> list[tuple[str, str]]:
    """(code, header) of every question of the exported dossiers' calls, in the form's order;
    a question of the same code in several calls (editions) shares one column."""
    questions = (
        Question.objects.filter(etape__appel__in=queryset.values("appel"))
        .order_by("etape__appel__opens_at", "etape__ordre", "ordre", "pk")
        .values_list("code", "libelle_court", "libelle")
    )
    columns = {}
    for code, short, label in questions:
        columns.setdefault(code, short or label)
    return list(columns.items())


def _answers(candidature) -> dict:
    """{code: text} from the prefetched questions, answers and pieces."""
    valeurs = {reponse.question_id: reponse for reponse in candidature.reponses.all()}
    pieces = list(candidature.pieces.all())
    texts = {}
    for question in (
        q for e in candidature.appel.etapes_questionnaire.all() for q in e.questions.all()
    ):
        if question.est_fichier:
            texts[question.code] = files_text(p for p in pieces if p.question_id == question.pk)
        else:
            reponse = valeurs.get(question.pk)
            texts[question.code] = question.display(reponse.valeur) if reponse else ""
    return texts


def candidatures_rows(queryset) -> tuple[list[str], Iterator[list]]:
    """French headers and a lazy iterator of rows (str, naive Paris datetimes or None)."""
    asked = question_columns(queryset)
    before, after = COLUMNS[:QUESTIONS_AT], COLUMNS[QUESTIONS_AT:]
    headers = [header for header, _ in before] + [h for _, h in asked] + [h for h, _ in after]
    dossiers = (
        queryset.select_related("appel", "collectivite", "collectivite__epci")
        .prefetch_related(None)
        .prefetch_related(*QUESTIONNAIRE_PREFETCH)
        .order_by("appel__opens_at", "numero", "collectivite__nom", "pk")
    )

    def rows():
        for candidature in dossiers.iterator(chunk_size=CHUNK_SIZE):
            answers = _answers(candidature)
            yield (
                [read(candidature) for _, read in before]
                + [answers.get(code, "") for code, _ in asked]
                + [read(candidature) for _, read in after]
            )

    return headers, rows()
