"""Helpers shared by the test_admin_jurors* modules."""

import html
import re
import zoneinfo
from datetime import datetime, timedelta

from django.contrib.messages import get_messages
from django.test import TestCase

from candidatures.dossiers import submission
from candidatures.models import Candidature, Collectivite, MembreJury, NiveauCritere
from tests.candidatures.factories import (
    AppelFactory,
    CritereFactory,
    complete_candidature,
    numbered,
)
from tests.factories import UserFactory, juror
from tests.utils import page_text

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


LIST_URL = "/admin/candidatures/dossierjury/"


STAFF_LIST_URL = "/admin/candidatures/candidature/"


# A moment inside the 2021 window (10 December 2020 – 12 March 2021).
INSIDE_WINDOW = datetime(2021, 3, 1, 10, 0, tzinfo=PARIS)


# (libellé, note_max, guidance per level); the last level of the third critère has none.
GRILLE = [
    (
        "Collectivité engagée dans une dynamique de transition",
        4,
        [
            "Aucune démarche de transition engagée.",
            "Une démarche isolée ou ponctuelle.",
            "Une démarche structurée.",
            "Plusieurs démarches engagées et cohérentes.",
            "Dynamique de transition structurée et portée politiquement.",
        ],
    ),
    (
        "Motivation, détermination et humilité",
        4,
        [
            "Motivation absente ou formelle.",
            "Motivation peu argumentée.",
            "Motivation claire, attentes générales.",
            "Motivation argumentée, attentes précises.",
            "Motivation forte, posture d'apprentissage et de partage affirmée.",
        ],
    ),
    (
        "Présence garantie d'un binôme élu·e / technicien·ne",
        3,
        [
            "Pas de binôme identifié.",
            "Un·e seul·e référent·e identifié·e.",
            "Binôme identifié, disponibilité incertaine.",
            "",
        ],
    ),
]


def make_appel(edition_2021=True, **kwargs):
    appel = AppelFactory(edition_2021=edition_2021, **kwargs)
    for ordre, (libelle, note_max, niveaux) in enumerate(GRILLE, start=1):
        critere = CritereFactory(appel=appel, ordre=ordre, libelle=libelle, note_max=note_max)
        for note, text in enumerate(niveaux):
            if text:
                NiveauCritere.objects.create(critere=critere, note=note, description=text)
    return appel


def commune(insee):
    return Collectivite.objects.get(insee=insee)


def deposer(appel, collectivite=None, **answers):
    """A complete dossier submitted through the service: numbered, with its receipt."""
    if collectivite is not None:
        answers["collectivite"] = collectivite
    dossier = complete_candidature(appel=appel, **answers)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the receipt's task
        submission.submit_candidature(candidature=dossier, user=UserFactory(), now=INSIDE_WINDOW)
    dossier.refresh_from_db()
    return dossier


def deposee(appel, collectivite, number):
    """A submitted dossier set up directly (no receipt): enough for lists and permissions."""
    return Candidature.objects.create(
        appel=appel,
        collectivite=collectivite,
        statut=Candidature.Statut.DEPOSEE,
        numero=numbered(appel, number),
        deposee_at=INSIDE_WINDOW + timedelta(hours=number),
    )


def jure(appel, email, collectivite=None, **names):
    user = juror(email=email, **names)
    MembreJury.objects.create(appel=appel, user=user, collectivite=collectivite)
    return user


def login(client, user):
    client.force_login(user)
    return client


def dossier_url(dossier):
    return f"{LIST_URL}{dossier.pk}/change/"


def evaluer_url(dossier):
    return f"{LIST_URL}{dossier.pk}/evaluer/"


def deporter_url(dossier):
    return f"{LIST_URL}{dossier.pk}/deporter/"


def result_rows(response):
    """The rows of the admin changelist's result table, as text without tags."""
    content = response.content.decode()
    table = re.search(r'<table id="result_list">(.*?)</table>', content, re.S)
    if table is None:
        return []
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1).split("</thead>")[1], re.S)
    return [
        " | ".join(
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ).strip(" |")
        for row in rows
    ]


def text_of(response) -> str:
    """What a reader sees: the page without its tags, white space folded."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page_text(response))).strip()


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def criteres_of(appel):
    return list(appel.criteres.order_by("ordre"))


def scores_post(appel, scores, *, button="enregistrer", **extra):
    """The évaluation form's POST: ``scores`` lists one value per critère (None = blank)."""
    data = {button: "1"}
    for critere, value in zip(criteres_of(appel), scores, strict=True):
        if value is not None:
            data[f"note_{critere.pk}"] = str(value)
        data[f"commentaire_{critere.pk}"] = f"Commentaire sur {critere.libelle.lower()}."
    data.update(extra)
    return data


def notes_in_db(evaluation):
    return [
        (note.critere.ordre, note.valeur, note.commentaire)
        for note in evaluation.notes.select_related("critere").order_by("critere__ordre")
    ]
