import secrets
import unicodedata
from datetime import time
from pathlib import PurePath

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
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

    def current(self):
        """The call the public page shows: the open one, else the next, else the latest."""
        now = timezone.now()
        published = self.published()
        return (
            published.filter(opens_at__lte=now, closes_at__gte=now).order_by("closes_at").first()
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


# ---------------------------------------------------------------------------------------------
# Candidature


class CandidatureQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Dossiers an applicant may read and edit: those they were given access to."""
        if not user.is_authenticated:
            return self.none()
        # A semi-join, not a join + DISTINCT: DISTINCT over every column (long answers
        # included) made this the costliest query of each page of the application journey.
        access = AccesCandidature.objects.filter(candidature=models.OuterRef("pk"), user=user)
        return self.filter(models.Exists(access))

    def readable_by(self, user):
        """Dossiers whose pages and files a user may read: staff holding the view permission
        read all, jurors what they may score, applicants their own."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff and user.has_perm("candidatures.view_candidature"):
            return self.all()
        if user.is_staff:
            return self.for_juror(user)
        return self.visible_to(user)

    def for_juror(self, user, now=None):
        """Submitted dossiers of the calls this juror sits on, once their deadline has passed
        (the call's, or the dossier's extension when later), assigned to them when the call
        assigns dossiers, and never one they are in conflict with (declared or detected)."""
        if not user.is_authenticated:
            return self.none()
        now = now or timezone.now()
        member = MembreJury.objects.filter(appel=models.OuterRef("appel"), user=user)
        # -1 stands for "no collectivité": SQL comparisons with NULL would hide every dossier.
        own = Coalesce(models.Subquery(member.values("collectivite")[:1]), -1)
        own_epci = Coalesce(models.Subquery(member.values("collectivite__epci")[:1]), -1)
        assigned = Affectation.objects.filter(candidature=models.OuterRef("pk"), jure=user)
        declared = ConflitInteret.objects.filter(candidature=models.OuterRef("pk"), jure=user)
        return (
            self.deposees()
            # « After the deadline, jury members see… » (Candidature.deadline(), in SQL).
            .filter(appel__closes_at__lt=now)
            .filter(Q(prolongation_jusqu_au__isnull=True) | Q(prolongation_jusqu_au__lt=now))
            .filter(models.Exists(member))
            .filter(Q(appel__mode_jury=Appel.ModeJury.TOUS) | models.Exists(assigned))
            .exclude(models.Exists(declared))
            # Detected ties are also checked live, so a register not yet refreshed hides nothing.
            .exclude(collectivite=own)
            .exclude(collectivite=own_epci)
            .exclude(Q(collectivite__epci=own) & Q(collectivite__epci__isnull=False))
        )

    def deposees(self):
        return self.filter(statut=Candidature.Statut.DEPOSEE)

    def brouillons(self):
        return self.filter(statut=Candidature.Statut.BROUILLON)


class Candidature(models.Model):
    class Statut(models.TextChoices):
        BROUILLON = "brouillon", "Brouillon"
        DEPOSEE = "deposee", "Déposée"

    appel = models.ForeignKey(Appel, on_delete=models.PROTECT, related_name="candidatures")
    collectivite = models.ForeignKey(
        Collectivite, on_delete=models.PROTECT, related_name="candidatures"
    )
    statut = models.CharField(max_length=20, choices=Statut.choices, default=Statut.BROUILLON)
    numero = models.CharField("numéro", max_length=40, blank=True)
    created_at = models.DateTimeField("créée le", auto_now_add=True)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    deposee_at = models.DateTimeField("déposée le", null=True, blank=True)
    prolongation_jusqu_au = models.DateTimeField(
        "prolongation accordée jusqu'au", null=True, blank=True
    )

    # Step 1: the collectivité's contact details
    adresse = models.CharField("adresse postale", max_length=250, blank=True)
    code_postal = models.CharField("code postal", max_length=5, blank=True)
    ville = models.CharField(max_length=150, blank=True)
    telephone = models.CharField("téléphone", max_length=20, blank=True)
    email_contact = models.EmailField("e-mail de la collectivité", blank=True)

    # Step 2: référent·es
    ref_pol_nom = models.CharField("nom et prénom", max_length=150, blank=True)
    ref_pol_fonction = models.CharField("fonction", max_length=200, blank=True)
    ref_pol_email = models.EmailField("e-mail", blank=True)
    ref_pol_telephone = models.CharField("téléphone", max_length=20, blank=True)
    ref_tech_nom = models.CharField("nom et prénom", max_length=150, blank=True)
    ref_tech_fonction = models.CharField("fonction", max_length=200, blank=True)
    ref_tech_email = models.EmailField("e-mail", blank=True)
    ref_tech_telephone = models.CharField("téléphone", max_length=20, blank=True)
    contact_nom = models.CharField("nom et prénom", max_length=150, blank=True)
    contact_fonction = models.CharField("fonction", max_length=200, blank=True)
    contact_email = models.EmailField("e-mail", blank=True)
    contact_telephone = models.CharField("téléphone", max_length=20, blank=True)

    # Step 3: the call's questions
    motivations = models.TextField(blank=True)
    actions = models.TextField("actions déjà réalisées ou prévues", blank=True)
    pistes = models.TextField("pistes de travail envisagées", blank=True)
    besoins = models.TextField("principaux besoins identifiés", blank=True)

    # Step 5: commitments
    engagement_binome = models.BooleanField(default=False)
    engagement_experimentation = models.BooleanField(default=False)
    consentement_donnees = models.BooleanField(default=False)

    objects = CandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "candidature"
        verbose_name_plural = "candidatures"
        ordering = ["appel", "numero", "collectivite__nom"]
        constraints = [
            models.UniqueConstraint(
                fields=["appel", "collectivite"], name="candidature_unique_per_appel"
            ),
            models.UniqueConstraint(
                fields=["appel", "numero"],
                condition=~Q(numero=""),
                name="candidature_unique_numero",
            ),
            models.CheckConstraint(
                condition=Q(statut="brouillon") | (~Q(numero="") & Q(deposee_at__isnull=False)),
                name="candidature_deposee_has_numero",
            ),
        ]

    def __str__(self):
        label = self.numero or "brouillon"
        return f"{self.collectivite.nom} ({label})"

    def get_absolute_url(self):
        return reverse("candidatures:dossier", args=[self.pk])

    @property
    def est_deposee(self):
        return self.statut == self.Statut.DEPOSEE

    def deadline(self):
        """The last second at which this dossier may be submitted (extension included)."""
        if self.prolongation_jusqu_au and self.prolongation_jusqu_au > self.appel.closes_at:
            return self.prolongation_jusqu_au
        return self.appel.closes_at

    def accepts_changes(self, now=None):
        now = now or timezone.now()
        return self.appel.opens_at <= now <= self.deadline()

    def is_editable(self, now=None):
        return self.statut == self.Statut.BROUILLON and self.accepts_changes(now)

    def referent_emails(self) -> list[str]:
        """Everyone who receives mail about this dossier, without duplicates, in order."""
        emails = [self.ref_pol_email, self.ref_tech_email]
        emails += [access.user.email for access in self.acces.select_related("user")]
        unique = []
        for email in emails:
            if email and email.lower() not in {known.lower() for known in unique}:
                unique.append(email)
        return unique

    # What the deposit needs, as (step, field, what « Il manque … » says): the step forms mark
    # these fields « obligatoire ».
    DEPOSIT_FIELDS = [
        (1, "adresse", "l'adresse postale de la collectivité"),
        (1, "code_postal", "le code postal"),
        (1, "ville", "la ville"),
        (1, "telephone", "le téléphone de la collectivité"),
        (1, "email_contact", "l'e-mail de la collectivité"),
        (2, "ref_pol_nom", "le nom du ou de la référent·e politique"),
        (2, "ref_pol_fonction", "la fonction du ou de la référent·e politique"),
        (2, "ref_pol_email", "l'e-mail du ou de la référent·e politique"),
        (2, "ref_pol_telephone", "le téléphone du ou de la référent·e politique"),
        (2, "ref_tech_nom", "le nom du ou de la référent·e technique"),
        (2, "ref_tech_fonction", "la fonction du ou de la référent·e technique"),
        (2, "ref_tech_email", "l'e-mail du ou de la référent·e technique"),
        (2, "ref_tech_telephone", "le téléphone du ou de la référent·e technique"),
        (3, "motivations", "les motivations de la collectivité"),
        (3, "actions", "les actions déjà réalisées ou prévues"),
        (3, "pistes", "les pistes de travail envisagées"),
        (3, "besoins", "les principaux besoins identifiés"),
    ]

    # The boxes of step 5, with what the deposit says when one is left unticked.
    ENGAGEMENTS = {
        "engagement_binome": "L'engagement à venir en binôme élu·e / technicien·ne manque.",
        "engagement_experimentation": "L'engagement à expérimenter sur le territoire manque.",
        "consentement_donnees": "Le consentement au traitement des données personnelles manque.",
    }

    def missing_items(self) -> list[tuple[int, str]]:
        """What must still be filled before submission, as (step, French message)."""
        missing = []
        for step, field, label in self.DEPOSIT_FIELDS:
            if not str(getattr(self, field)).strip():
                missing.append((step, f"Il manque {label}."))
        # Read through .all() so that a list which prefetched the pieces asks nothing more.
        natures = {piece.nature for piece in self.pieces.all()}
        if PieceJointe.Nature.LETTRE_MOTIVATION not in natures:
            missing.append((4, "Il manque la lettre de motivation."))
        for field, message in self.ENGAGEMENTS.items():
            if not getattr(self, field):
                missing.append((5, message))
        return missing

    def related_candidatures(self):
        """Candidatures to the same call from this collectivité's EPCI or member communes."""
        return (
            Candidature.objects.filter(
                appel=self.appel, collectivite__siren__in=self.collectivite.related_siren()
            )
            .exclude(pk=self.pk)
            .select_related("collectivite")
        )


class AccesCandidature(models.Model):
    """Who may read and edit a dossier: the person who started it and invited co-référent·es."""

    class Role(models.TextChoices):
        CREATEUR = "createur", "A créé le dossier"
        INVITE = "invite", "Invité·e"

    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="acces")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="acces_candidatures"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "accès au dossier"
        verbose_name_plural = "accès aux dossiers"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "user"], name="acces_unique_user"),
        ]

    def __str__(self):
        return f"{self.user} → {self.candidature}"


def piece_upload_to(instance, filename):
    # Unguessable, extension kept for the browser; the original name lives in the database.
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"dossiers/{instance.candidature.appel.slug}/{secrets.token_urlsafe(24)}{suffix}"


class PieceJointe(models.Model):
    class Nature(models.TextChoices):
        LETTRE_MOTIVATION = "lettre", "Lettre de motivation"
        COMPLEMENTAIRE = "complement", "Document complémentaire"

    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="pieces")
    nature = models.CharField(max_length=12, choices=Nature.choices)
    fichier = models.FileField(upload_to=piece_upload_to, max_length=200)
    nom_original = models.CharField("nom du fichier", max_length=200)
    type_mime = models.CharField(max_length=100)
    taille = models.PositiveIntegerField("taille (octets)")
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    uploaded_at = models.DateTimeField("déposée le", auto_now_add=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "pièce jointe"
        verbose_name_plural = "pièces jointes"
        ordering = ["candidature", "nature", "uploaded_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidature"],
                condition=Q(nature="lettre"),
                name="piece_one_motivation_letter",
            ),
        ]

    def __str__(self):
        return self.nom_original

    def get_absolute_url(self):
        return reverse("candidatures:piece", args=[self.candidature_id, self.pk])


class Depot(models.Model):
    """A frozen, time-stamped copy of a dossier at one submission, with its receipt."""

    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="depots")
    version = models.PositiveSmallIntegerField()
    submitted_at = models.DateTimeField("déposé le")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    contenu = models.JSONField("contenu figé")
    # Empty for a moment after the submission: the receipt is rendered once the deposit is
    # committed (``services.issue_receipt``), or later by ``manage.py emettre_recus``.
    recu = models.FileField(
        "accusé de réception (PDF)", upload_to="recus/", max_length=200, blank=True
    )
    recu_sha256 = models.CharField(max_length=64, blank=True)
    # Set once the receipt e-mail has left: a process killed between filing the receipt and
    # mailing it, or a mail server that refused it, leaves it empty for emettre_recus.
    recu_envoye_at = models.DateTimeField("accusé envoyé le", null=True, blank=True)

    class Meta:
        verbose_name = "dépôt"
        verbose_name_plural = "dépôts"
        ordering = ["candidature", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["candidature", "version"], name="depot_unique_version"),
        ]

    def __str__(self):
        return f"{self.candidature} — dépôt n° {self.version}"


class Evenement(models.Model):
    """The dossier's timeline and audit log: who did what, when, from which state to which."""

    class Nature(models.TextChoices):
        CREATION = "creation", "Dossier créé"
        INVITATION = "invitation", "Co-référent·e invité·e"
        DEPOT = "depot", "Dossier déposé"
        REOUVERTURE = "reouverture", "Dossier rouvert"
        PROLONGATION = "prolongation", "Prolongation accordée"
        DEMANDE_ACCES = "demande_acces", "Demande d'accès"

    candidature = models.ForeignKey(
        Candidature, on_delete=models.CASCADE, related_name="evenements"
    )
    nature = models.CharField(max_length=20, choices=Nature.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    statut_avant = models.CharField(max_length=20, blank=True)
    statut_apres = models.CharField(max_length=20, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        verbose_name = "événement"
        verbose_name_plural = "événements"
        ordering = ["candidature", "at", "pk"]

    def __str__(self):
        return f"{self.get_nature_display()} — {self.at:%d/%m/%Y %H:%M}"


class DemandeLienConnexion(models.Model):
    """One request for a sign-in link, kept to throttle per address and per IP."""

    email = models.EmailField()
    ip = models.GenericIPAddressField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "demande de lien de connexion"
        verbose_name_plural = "demandes de lien de connexion"
        indexes = [
            models.Index(fields=["email", "created_at"]),
            models.Index(fields=["ip", "created_at"]),
        ]

    def __str__(self):
        return f"{self.email} — {self.created_at:%d/%m/%Y %H:%M}"


class BrouillonManager(models.Manager.from_queryset(CandidatureQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(statut=Candidature.Statut.BROUILLON)


class Brouillon(Candidature):
    """Drafts only: lets the admin list dossiers in progress apart from submitted ones."""

    objects = BrouillonManager()

    class Meta:
        proxy = True
        verbose_name = "brouillon (dossier en cours)"
        verbose_name_plural = "brouillons (dossiers en cours)"


# The models of the sub-packages: Django loads ``candidatures.models``, so they are imported here
# (after the models they build on).
from .decisions.models import (  # noqa: E402, F401
    Courrier,
    Decision,
    DecisionQuerySet,
    EnvoiCourrier,
    Issue,
    ModeleCourrier,
)
from .jury.models import (  # noqa: E402, F401
    Affectation,
    ConflitInteret,
    DossierJury,
    Evaluation,
    EvaluationQuerySet,
    MembreJury,
    Note,
    Recommandation,
)
