"""The dossiers' spreadsheet export (CSV for Excel FR, XLSX), used by the admin actions.

``candidatures_rows`` turns a queryset into French headers and an iterator of rows: one
column per field of the call's form, dates in Europe/Paris. It runs a constant number of
queries whatever the number of dossiers, and reads them in chunks, so the responses can be
streamed by ``cerdd_ami.spreadsheets``.
"""

from collections.abc import Iterator

from cerdd_ami.spreadsheets import oui_non, paris_naive


def _nature(candidature) -> str:
    collectivite = candidature.collectivite
    if collectivite.nature == collectivite.Nature.COMMUNE:
        return collectivite.get_nature_display()
    return collectivite.get_type_epci_display()


# (French header, how to read the value from a candidature), in the order of the form.
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
    ("Motivations", lambda c: c.motivations),
    ("Actions déjà réalisées ou prévues", lambda c: c.actions),
    ("Pistes de travail envisagées", lambda c: c.pistes),
    ("Principaux besoins identifiés", lambda c: c.besoins),
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

CHUNK_SIZE = 500


def candidatures_rows(queryset) -> tuple[list[str], Iterator[list]]:
    """French headers and a lazy iterator of rows (str, naive Paris datetimes or None)."""
    headers = [header for header, _ in COLUMNS]
    dossiers = (
        queryset.select_related("appel", "collectivite", "collectivite__epci")
        .prefetch_related(None)
        .order_by("appel__opens_at", "numero", "collectivite__nom", "pk")
    )

    def rows():
        for candidature in dossiers.iterator(chunk_size=CHUNK_SIZE):
            yield [read(candidature) for _, read in COLUMNS]

    return headers, rows()
