"""Factories of the candidatures app, shared by every test module.

Collectivités are never invented: they come from the official list the migration loads.
``AppelFactory()`` is a call open now; ``AppelFactory(edition_2021=True)`` is the real 2021
calendar (opens 10 December 2020, closes 12 March 2021 23:59:59 Paris, answers 15 April 2021).
``complete_candidature()`` returns a draft that can be submitted as is; ``numbered(appel, n)``
numbers a dossier set up as submitted directly, keeping the call's counter in step.
"""

import hashlib
import html
import zoneinfo
from datetime import date, datetime, timedelta
from functools import lru_cache

import factory
from django.core.files.base import ContentFile
from django.utils import timezone
from django.utils.text import slugify

from candidatures.models import (
    AccesCandidature,
    Appel,
    Candidature,
    Collectivite,
    Critere,
    PieceJointe,
    Question,
    Reponse,
    end_of_day,
)
from candidatures.questionnaires.services import create_standard_questionnaire
from cerdd_ami import files
from cerdd_ami.pdf import pdf_from_html
from tests.factories import UserFactory

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


@lru_cache(maxsize=64)
def tiny_pdf_bytes(text="Lettre de motivation") -> bytes:
    """A real one-page PDF holding ``text`` (rendered by WeasyPrint, cached per text)."""
    return pdf_from_html(
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        "<style>@page { size: A4; margin: 2cm } body { font-family: 'DejaVu Sans' }</style>"
        f"</head><body><p>{html.escape(text)}</p></body></html>"
    )


def _open_now():
    return timezone.now() - timedelta(days=30)


class AppelFactory(factory.django.DjangoModelFactory):
    """A published call, open now: opened 30 days ago, closes in 30 days, answers 60 days later."""

    class Meta:
        model = Appel
        skip_postgeneration_save = True

    class Params:
        edition_2021 = factory.Trait(
            opens_at=datetime(2020, 12, 10, 0, 0, tzinfo=PARIS),
            closes_at=end_of_day(date(2021, 3, 12)),
            announcement_at=datetime(2021, 4, 15, 9, 0, tzinfo=PARIS),
            first_session_date=date(2021, 5, 18),
        )

    titre = "Vers des territoires participatifs en Hauts-de-France"
    slug = factory.Sequence(lambda n: f"ami-{n}")
    prefixe_numero = "AMI-2021"
    est_publie = True
    accroche = (
        "Un cycle de qualification de 7 séances pour les élu·es et technicien·nes des communes "
        "et EPCI des Hauts-de-France qui veulent engager leur territoire dans une démarche "
        "participative."
    )
    opens_at = factory.LazyFunction(_open_now)
    closes_at = factory.LazyAttribute(lambda o: o.opens_at + timedelta(days=60))
    announcement_at = factory.LazyAttribute(lambda o: o.closes_at + timedelta(days=60))
    first_session_date = factory.LazyAttribute(
        lambda o: timezone.localtime(o.announcement_at, PARIS).date() + timedelta(days=33)
    )
    first_session_place = "Loos-en-Gohelle"
    places = 12
    contact_nom = "Alexis Montaigne"
    contact_fonction = "chargé de mission citoyenneté et développement durable"
    contact_email = "amontaigne@cerdd.org"
    signataire_nom = "Emmanuel Bertin"
    signataire_fonction = "directeur du Cerdd"
    signataire_email = "ebertin@cerdd.org"

    @factory.post_generation
    def questionnaire(self, create, extracted, **kwargs):
        """The standard questionnaire (2021's), unless ``questionnaire=False`` or a list of
        steps in the shape of ``standard.STANDARD_STEPS``."""
        if create and extracted is not False:
            create_standard_questionnaire(appel=self, steps=extracted or None)


class CritereFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Critere

    appel = factory.SubFactory(AppelFactory)
    ordre = factory.Sequence(lambda n: n + 1)
    libelle = "Collectivité engagée dans une dynamique de transition"
    description = "Plan Climat, démarche de développement durable, projet alimentaire local…"
    poids = 1
    note_max = 4


def _free_collectivite(appel):
    """Arras when it has not applied to ``appel`` yet, else the most populous commune left."""
    taken = Candidature.objects.filter(appel=appel).values("collectivite")
    free = Collectivite.objects.active().exclude(pk__in=taken)
    return (
        free.filter(insee="62041").first()
        or free.filter(nature=Collectivite.Nature.COMMUNE).order_by("-population", "insee").first()
    )


class CandidatureFactory(factory.django.DjangoModelFactory):
    """An empty draft; ``createur=user`` also gives that user access as creator."""

    class Meta:
        model = Candidature
        skip_postgeneration_save = True

    appel = factory.SubFactory(AppelFactory)
    collectivite = factory.LazyAttribute(lambda o: _free_collectivite(o.appel))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Answers to the call's questions by code (``motivations="…"``): Reponse rows.
        codes = set(
            Question.objects.filter(etape__appel=kwargs["appel"]).values_list("code", flat=True)
        )
        answers = {code: kwargs.pop(code) for code in list(kwargs) if code in codes}
        candidature = super()._create(model_class, *args, **kwargs)
        for code, value in answers.items():
            answer(candidature, code, value)
        return candidature

    @factory.post_generation
    def createur(self, create, extracted, **kwargs):
        if create and extracted:
            AccesCandidature.objects.create(
                candidature=self, user=extracted, role=AccesCandidature.Role.CREATEUR
            )


def question_of(appel, code) -> Question:
    return Question.objects.get(etape__appel=appel, code=code)


def answer(candidature, code, value):
    """Store ``value`` as ``candidature``'s answer to its call's question ``code``."""
    Reponse.objects.update_or_create(
        candidature=candidature,
        question=question_of(candidature.appel_id, code),
        defaults={"valeur": value},
    )


def answer_of(candidature, code):
    reponse = Reponse.objects.filter(candidature=candidature, question__code=code).first()
    return reponse.valeur if reponse else None


class PieceJointeFactory(factory.django.DjangoModelFactory):
    """A motivation letter by default (``nature="complement"``: a supporting document, or
    ``question=…``): a real PDF whose size and SHA-256 match its bytes."""

    class Meta:
        model = PieceJointe

    class Params:
        contenu = factory.LazyAttribute(lambda o: tiny_pdf_bytes(f"{o.nom_original}"))
        nature = PieceJointe.Nature.LETTRE_MOTIVATION

    candidature = factory.SubFactory(CandidatureFactory)
    question = factory.LazyAttribute(lambda o: question_of(o.candidature.appel_id, o.nature))
    nom_original = "lettre-de-motivation.pdf"
    type_mime = files.PDF
    fichier = factory.LazyAttribute(lambda o: ContentFile(o.contenu, name=o.nom_original))
    taille = factory.LazyAttribute(lambda o: len(o.contenu))
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.contenu).hexdigest())


class AccesFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccesCandidature

    candidature = factory.SubFactory(CandidatureFactory)
    user = factory.SubFactory(UserFactory)
    role = AccesCandidature.Role.CREATEUR


def numbered(appel, number: int) -> str:
    """« PRÉFIXE-00n » for a dossier set up as submitted without the service.

    The call's counter is raised to ``number``, as a submission would have done, so that a real
    submission later in the same test never takes a number already given.
    """
    Appel.objects.filter(pk=appel.pk, dernier_numero__lt=number).update(dernier_numero=number)
    return f"{appel.prefixe_numero}-{number:03d}"


# The standard questionnaire's text questions, answered by ``complete_answers``.
QUESTION_CODES = ["motivations", "actions", "pistes", "besoins"]


def complete_answers(collectivite) -> dict:
    """Every field of the form, filled as a real commune would."""
    domain = f"{slugify(collectivite.nom)}.exemple.test"
    return {
        "adresse": "Hôtel de ville, place des Héros",
        "code_postal": (collectivite.codes_postaux or "62000").split()[0][:5],
        "ville": collectivite.nom,
        "telephone": "03 21 50 50 50",
        "email_contact": f"contact@{domain}",
        "ref_pol_nom": "Claire Dupont",
        "ref_pol_fonction": "Adjointe déléguée à la démocratie participative",
        "ref_pol_email": f"claire.dupont@{domain}",
        "ref_pol_telephone": "06 12 34 56 78",
        "ref_tech_nom": "Julien Martin",
        "ref_tech_fonction": "Chargé de mission développement durable",
        "ref_tech_email": f"julien.martin@{domain}",
        "ref_tech_telephone": "03 21 50 50 51",
        "motivations": (
            "Notre Plan Climat a été écrit avec les habitant·es.\n"
            "Nous voulons aller plus loin : faire des citoyen·nes des acteurs de la transition."
        ),
        "actions": "Budget participatif depuis 2019.\nConseils de quartier renouvelés en 2020.",
        "pistes": "Une assemblée citoyenne du climat ; une Carto Party dans chaque quartier.",
        "besoins": "Mobiliser au-delà des habitué·es ; former les élu·es à l'animation.",
        "engagement_binome": True,
        "engagement_experimentation": True,
        "consentement_donnees": True,
    }


def complete_candidature(*, lettre_text="Lettre de motivation de la collectivité", **kwargs):
    """A draft with every required field, a motivation letter (real PDF) and the commitments.

    Keyword arguments go to ``CandidatureFactory`` and override the answers (e.g.
    ``motivations="…"``, ``appel=appel``, ``collectivite=…``, ``createur=user``).
    """
    answers = {}
    fields = {field.name for field in Candidature._meta.get_fields()} | set(QUESTION_CODES)
    for key in list(kwargs):
        if key in fields and key not in {"appel", "collectivite"}:
            answers[key] = kwargs.pop(key)
    candidature = CandidatureFactory(**kwargs)
    values = {**complete_answers(candidature.collectivite), **answers}
    codes = set(
        Question.objects.filter(etape__appel=candidature.appel_id).values_list("code", flat=True)
    )
    for field, value in values.items():
        if field in codes:
            answer(candidature, field, value)
        elif field not in QUESTION_CODES:
            setattr(candidature, field, value)
    candidature.save()
    if "lettre" in codes:
        PieceJointeFactory(
            candidature=candidature,
            nom_original="lettre-de-motivation.pdf",
            contenu=tiny_pdf_bytes(lettre_text),
        )
    return candidature
