"""Calls for expressions of interest (Appel), their scoring grid (Critère, NiveauCritere) and
the collectivités that may apply."""

import unicodedata
from datetime import time

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cerdd_ami.formats import format_month_span


def search_key(text: str) -> str:
    """Lower-case, accent-free, hyphen-free form used to match names typed by applicants."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    for separator in "-'’":
        stripped = stripped.replace(separator, " ")
    return " ".join(stripped.lower().replace("œ", "oe").split())


# ---------------------------------------------------------------------------------------------
# Appel


class AppelQuerySet(models.QuerySet):
    def published(self):
        return self.filter(est_publie=True)

    def scoring_open(self, now=None):
        """Calls whose jurors score now: as ``Appel.scoring_is_open``, in one query."""
        return self.filter(closes_at__lt=now or timezone.now(), notation_close_at__isnull=True)

    def open_now(self, now=None):
        """The published calls open to applications (``Appel.etat`` « Ouvert »), the soonest
        to close first: the home page lists them all."""
        now = now or timezone.now()
        return (
            self.published()
            .filter(opens_at__lte=now, closes_at__gte=now, decisions_published_at__isnull=True)
            .order_by("closes_at", "pk")
        )

    def current(self):
        """The call the public page shows: the open one closing first, else the next, else
        the latest."""
        now = timezone.now()
        published = self.published()
        return (
            self.open_now(now).first()
            or published.filter(opens_at__gt=now).order_by("opens_at").first()
            or published.order_by("-closes_at").first()
        )


class Appel(models.Model):
    class Etat(models.TextChoices):
        A_VENIR = "a_venir", "Pas encore ouvert"
        OUVERT = "ouvert", "Ouvert"
        CLOS = "clos", "Clos"
        DECISIONS_PUBLIEES = "decisions_publiees", "Décisions publiées"

    titre = models.CharField(max_length=250)
    programme = models.CharField(
        max_length=150,
        default="Territoires participatifs",
        help_text="Le programme du Cerdd dont l'appel est une édition, par exemple « Alimentation "
        "durable » : la page d'accueil l'annonce avec chaque appel ouvert.",
    )
    slug = models.SlugField(unique=True, help_text="Identifiant court, par exemple « 2021 ».")
    prefixe_numero = models.CharField(
        "préfixe des numéros de dossier",
        max_length=30,
        help_text="Les dossiers déposés sont numérotés « PRÉFIXE-001 », par exemple AMI-2021-007.",
    )
    # The numbering counter: a submission takes the next numero with one UPDATE of this row,
    # instead of scanning every dossier of the call under a lock.
    dernier_numero = models.PositiveIntegerField("dernier numéro attribué", default=0)
    est_publie = models.BooleanField("publié sur le site", default=False)

    accroche = models.TextField("accroche", blank=True)
    presentation = models.TextField("présentation du Cerdd et du programme", blank=True)
    objectifs = models.TextField("objectifs du cycle", blank=True)
    cycle = models.TextField("le cycle de qualification", blank=True)
    calendrier = models.TextField("calendrier", blank=True)
    bonnes_raisons = models.TextField("les 5 bonnes raisons de candidater", blank=True)
    criteres_texte = models.TextField("critères de sélection (texte)", blank=True)
    attentes = models.TextField("attentes du Cerdd", blank=True)

    contact_nom = models.CharField("contact : nom", max_length=150, blank=True)
    contact_fonction = models.CharField("contact : fonction", max_length=200, blank=True)
    contact_email = models.EmailField("contact : e-mail", blank=True)
    signataire_nom = models.CharField("signataire : nom", max_length=150, blank=True)
    signataire_fonction = models.CharField("signataire : fonction", max_length=200, blank=True)
    signataire_email = models.EmailField("signataire : e-mail", blank=True)

    opens_at = models.DateTimeField("ouverture")
    closes_at = models.DateTimeField("date limite de dépôt")
    announcement_at = models.DateTimeField("réponse aux collectivités")
    first_session_date = models.DateField("première journée du cycle", null=True, blank=True)
    first_session_place = models.CharField(
        "lieu de la première journée", max_length=200, blank=True
    )
    places = models.PositiveSmallIntegerField("nombre de places", default=12)

    class ModeJury(models.TextChoices):
        TOUS = "tous", "Chaque juré·e évalue chaque dossier"
        AFFECTATION = "affectation", "Chaque dossier est affecté à quelques juré·es"

    mode_jury = models.CharField(
        "organisation du jury", max_length=12, choices=ModeJury.choices, default=ModeJury.TOUS
    )
    jures_par_dossier = models.PositiveSmallIntegerField(
        "juré·es par dossier (affectation automatique)", default=3
    )
    seuil_desaccord = models.DecimalField(
        "seuil de désaccord (écart-type, points sur 20)",
        max_digits=4,
        decimal_places=1,
        default=3,
        help_text="Au-delà, le dossier est signalé : les notes des juré·es divergent.",
    )
    notation_close_at = models.DateTimeField("notation close le", null=True, blank=True)
    deliberation_ouverte_at = models.DateTimeField("délibération ouverte le", null=True, blank=True)
    decisions_published_at = models.DateTimeField("décisions publiées le", null=True, blank=True)
    # « Programmer la publication » (decisions/scheduling.py): when the worker will publish,
    # and the id of its task in the queue (to cancel it).
    publication_programmee_at = models.DateTimeField(
        "publication programmée le", null=True, blank=True
    )
    publication_tache_id = models.CharField(
        "tâche de la publication programmée", max_length=64, blank=True
    )
    entete_courrier = models.TextField(
        "en-tête des courriers",
        blank=True,
        default="Cerdd — Centre Ressource du Développement Durable\n11/19 rue de Bourgogne, "
        "62750 Loos-en-Gohelle\nwww.cerdd.org",
    )
    lieu_courrier = models.CharField(
        "lieu d'envoi des courriers", max_length=100, default="Loos-en-Gohelle"
    )
    signature = models.ImageField(
        "signature (image, facultative)", upload_to="signatures/", blank=True
    )

    epci_interregionaux_eligibles = models.BooleanField(
        "EPCI interrégionaux éligibles",
        default=True,
        help_text="EPCI dont une partie des communes est hors Hauts-de-France (Seine-Maritime).",
    )
    taille_max_fichier_mo = models.PositiveSmallIntegerField(
        "taille maximale d'un fichier (Mo)", default=10
    )
    taille_max_dossier_mo = models.PositiveSmallIntegerField(
        "taille maximale d'un dossier (Mo)", default=30
    )

    objects = AppelQuerySet.as_manager()

    class Meta:
        verbose_name = "appel"
        verbose_name_plural = "appels"
        ordering = ["-opens_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("closes_at")), name="appel_opens_before_closes"
            ),
            models.CheckConstraint(
                condition=Q(closes_at__lte=models.F("announcement_at")),
                name="appel_closes_before_announcement",
            ),
            models.CheckConstraint(
                condition=Q(taille_max_fichier_mo__gte=1)
                & Q(taille_max_dossier_mo__gte=models.F("taille_max_fichier_mo")),
                name="appel_file_limits_consistent",
            ),
        ]

    def __str__(self):
        return self.titre

    def get_absolute_url(self):
        return reverse("candidatures:appel", args=[self.slug])

    def etat(self, now=None):
        now = now or timezone.now()
        if self.decisions_published_at:
            return self.Etat.DECISIONS_PUBLIEES
        if now < self.opens_at:
            return self.Etat.A_VENIR
        if now <= self.closes_at:
            return self.Etat.OUVERT
        return self.Etat.CLOS

    # The call's séance plan (DESIGN.md): « 7 séances … de mai 2021 à mars 2022, soit 10 mois »,
    # about every six weeks; the public calendar and the letters derive their dates from it.
    NOMBRE_SEANCES = 7
    DUREE_CYCLE_MOIS = 10

    def periode_cycle(self) -> str:
        """« de mai 2021 à mars 2022 », from the first session; "" while it is not set."""
        return format_month_span(self.first_session_date, self.DUREE_CYCLE_MOIS)

    def is_open(self, now=None):
        return self.etat(now) == self.Etat.OUVERT

    def scoring_is_open(self, now=None):
        """Jurors score after the deadline, until staff close the scoring phase."""
        now = now or timezone.now()
        return now > self.closes_at and self.notation_close_at is None

    @property
    def deliberation_ouverte(self):
        return self.deliberation_ouverte_at is not None

    @property
    def max_file_bytes(self):
        return self.taille_max_fichier_mo * 1024 * 1024

    @property
    def max_dossier_bytes(self):
        return self.taille_max_dossier_mo * 1024 * 1024


def end_of_day(day, tz=None):
    """23:59:59 of ``day`` in Europe/Paris (or ``tz``), as an aware datetime."""
    import zoneinfo
    from datetime import datetime

    zone = tz or zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return datetime.combine(day, time(23, 59, 59), tzinfo=zone)


class Critere(models.Model):
    appel = models.ForeignKey(Appel, on_delete=models.CASCADE, related_name="criteres")
    ordre = models.PositiveSmallIntegerField(default=1)
    libelle = models.CharField("libellé", max_length=250)
    description = models.TextField(blank=True)
    poids = models.DecimalField(
        max_digits=4, decimal_places=2, default=1, validators=[MinValueValidator(0.01)]
    )
    note_max = models.PositiveSmallIntegerField(
        "note maximale", default=4, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )

    class Meta:
        verbose_name = "critère"
        verbose_name_plural = "critères"
        ordering = ["appel", "ordre"]
        constraints = [
            models.UniqueConstraint(fields=["appel", "ordre"], name="critere_unique_order"),
            models.CheckConstraint(condition=Q(poids__gt=0), name="critere_weight_positive"),
            models.CheckConstraint(
                condition=Q(note_max__gte=1) & Q(note_max__lte=20), name="critere_max_score_range"
            ),
        ]

    def __str__(self):
        return f"{self.ordre}. {self.libelle}"


class NiveauCritere(models.Model):
    """What a given score means for one critère: the guide shown beside the juror's input."""

    critere = models.ForeignKey(Critere, on_delete=models.CASCADE, related_name="niveaux")
    note = models.PositiveSmallIntegerField()
    description = models.TextField()

    class Meta:
        verbose_name = "niveau de notation"
        verbose_name_plural = "niveaux de notation"
        ordering = ["critere", "note"]
        constraints = [
            models.UniqueConstraint(fields=["critere", "note"], name="niveau_unique_score"),
        ]

    def __str__(self):
        return f"{self.note} — {self.description[:60]}"


# ---------------------------------------------------------------------------------------------
# Collectivité


class CollectiviteQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def search(self, query: str):
        key = search_key(query)
        if not key:
            return self.none()
        if key.isdigit():
            # INSEE codes and postcodes are typed as numbers; 2A/2B do not occur in région 32.
            return self.filter(Q(insee__startswith=key) | Q(codes_postaux__contains=key))
        matches = self.all()
        for word in key.split():
            matches = matches.filter(nom_recherche__contains=word)
        return matches.order_by(
            models.Case(
                models.When(nom_recherche=key, then=0),
                models.When(nom_recherche__startswith=key, then=1),
                default=2,
            ),
            "-population",
            "nom",
        )


class Collectivite(models.Model):
    class Nature(models.TextChoices):
        COMMUNE = "commune", "Commune"
        EPCI = "epci", "EPCI"

    class TypeEpci(models.TextChoices):
        CC = "CC", "Communauté de communes"
        CA = "CA", "Communauté d'agglomération"
        CU = "CU", "Communauté urbaine"
        METRO = "METRO", "Métropole"

    nature = models.CharField(max_length=10, choices=Nature.choices)
    siren = models.CharField("SIREN", max_length=9, unique=True)
    insee = models.CharField("code INSEE", max_length=5, blank=True)
    nom = models.CharField(max_length=200)
    nom_recherche = models.CharField(max_length=200, editable=False, db_index=True)
    type_epci = models.CharField("type d'EPCI", max_length=5, choices=TypeEpci.choices, blank=True)
    departement = models.CharField("département", max_length=3)
    population = models.PositiveIntegerField(null=True, blank=True)
    codes_postaux = models.CharField("codes postaux", max_length=100, blank=True)
    epci = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="communes",
        limit_choices_to={"nature": "epci"},
        verbose_name="EPCI de rattachement",
    )
    interregional = models.BooleanField(
        "interrégional",
        default=False,
        help_text="EPCI dont une partie des communes est hors région Hauts-de-France.",
    )
    active = models.BooleanField(
        default=True,
        help_text="Absente de la dernière version du référentiel : conservée, inactive.",
    )

    objects = CollectiviteQuerySet.as_manager()

    class Meta:
        verbose_name = "collectivité"
        verbose_name_plural = "collectivités"
        ordering = ["nom"]
        constraints = [
            models.UniqueConstraint(
                fields=["insee"], condition=~Q(insee=""), name="collectivite_unique_insee"
            ),
            models.CheckConstraint(
                condition=(Q(nature="commune") & ~Q(insee="") & Q(type_epci=""))
                | (Q(nature="epci") & Q(insee="") & ~Q(type_epci="")),
                name="collectivite_nature_fields",
            ),
        ]

    def __str__(self):
        if self.nature == self.Nature.COMMUNE:
            return f"{self.nom} ({self.departement})"
        return self.nom

    @property
    def libelle_complet(self):
        return f"{self.nom} — {self.description}"

    @property
    def description(self):
        """What tells two namesakes apart, for pages that show the name already."""
        if self.nature == self.Nature.COMMUNE:
            return f"commune, INSEE {self.insee}, {self.departement}"
        return f"{self.get_type_epci_display()}, SIREN {self.siren}"

    def ineligibility_reason(self, appel) -> str:
        """Why this collectivité cannot apply to ``appel``, or "" when it can."""
        if not self.active:
            return "Cette collectivité n'existe plus dans le référentiel officiel."
        if self.interregional and not appel.epci_interregionaux_eligibles:
            return (
                "Cette intercommunalité s'étend hors des Hauts-de-France : elle n'est pas "
                "éligible à cet appel."
            )
        return ""

    def related_siren(self) -> set[str]:
        """This collectivité's EPCI (for a commune) or member communes (for an EPCI)."""
        if self.nature == self.Nature.COMMUNE:
            return {self.epci.siren} if self.epci_id else set()
        return set(self.communes.values_list("siren", flat=True))
