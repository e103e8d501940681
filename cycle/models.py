import secrets
import zoneinfo
from datetime import datetime
from pathlib import PurePath

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from candidatures.models import AccesCandidature, Appel, Candidature, Collectivite
from cerdd_ami.models import SuiviEnvoi

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

# The themes the call lists as « idées incontournables », offered in the needs survey.
THEMES_APPEL = [
    (
        "enjeux",
        "Les enjeux de la participation citoyenne face à la crise de la démocratie "
        "représentative et la crise écologique et climatique",
    ),
    (
        "postures",
        "Les postures de chacun·e dans les processus de mobilisation et de participation "
        "citoyenne : élu·es, technicien·nes, citoyen·nes",
    ),
    ("elus_activateurs", "Les élu·es activateurs de citoyenneté : principes et méthodes"),
    ("alliances", "Les alliances citoyen·nes – collectivités : par où commencer ?"),
    (
        "situations_complexes",
        "Gérer les situations complexes : les risques d'instrumentalisation et de récupération",
    ),
    (
        "outils",
        "Les outils utiles pour construire son processus participatif pour la transition "
        "écologique : boussole de la participation, Carto Party, mise en récit, budgets "
        "participatifs, outils numériques",
    ),
    ("diversite", "Sortir du « Tous les mêmes » : embarquer une diversité de citoyen·nes"),
    (
        "decision_evaluation",
        "L'implication citoyenne dans la décision, le suivi et l'évaluation des projets",
    ),
]


class Cycle(models.Model):
    """The qualification cycle that follows one call."""

    appel = models.OneToOneField(
        Appel, on_delete=models.PROTECT, related_name="cycle_qualification"
    )
    titre = models.CharField(max_length=250)
    seances_min_attestation = models.PositiveSmallIntegerField(
        "séances minimum pour l'attestation", default=5
    )
    jours_avant_note = models.PositiveSmallIntegerField(
        "envoi de la note de contexte (jours avant la séance)", default=10
    )

    class Meta:
        verbose_name = "cycle"
        verbose_name_plural = "cycles"

    def __str__(self):
        return self.titre

    def current_seance(self, now=None):
        """The last séance held (started, see ``SeanceQuerySet.started``), or None before the
        first one: the séance « since » which the journal is being written."""
        return self.seances.started(now).by_start().last()

    def next_seance(self, now=None):
        """The first séance not started yet, or None once the last one has started."""
        return self.seances.upcoming(now).by_start().first()


def _started_q(now=None) -> Q:
    now = timezone.localtime(now or timezone.now(), PARIS)
    return Q(date__lt=now.date()) | Q(date=now.date(), heure_debut__lte=now.time())


class SeanceQuerySet(models.QuerySet):
    """The one rule of « held » séances: a séance has started (and counts as held) from its
    date and ``heure_debut``, Paris time; before that it is to come, whatever its état says
    (staff may forget to mark it « tenue », or postpone it without changing the état)."""

    def started(self, now=None):
        return self.filter(_started_q(now))

    def upcoming(self, now=None):
        return self.exclude(_started_q(now))

    def by_start(self):
        return self.order_by("date", "heure_debut", "numero")


class Seance(models.Model):
    class Etat(models.TextChoices):
        PREVUE = "prevue", "Prévue"
        CONFIRMEE = "confirmee", "Confirmée"
        TENUE = "tenue", "Tenue"

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="seances")
    numero = models.PositiveSmallIntegerField("numéro")
    date = models.DateField()
    heure_debut = models.TimeField("début", default="09:30")
    heure_fin = models.TimeField("fin", default="16:30")
    lieu = models.CharField(max_length=200, blank=True)
    adresse = models.CharField(max_length=250, blank=True)
    collectivite_hote = models.ForeignKey(
        Collectivite,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="collectivité hôte",
    )
    themes = models.TextField("thème(s)", blank=True)
    programme_matin = models.TextField("matinée", blank=True)
    programme_dejeuner = models.TextField("déjeuner", blank=True, default="Déjeuner en commun.")
    programme_apres_midi = models.TextField("après-midi", blank=True)
    etat = models.CharField("état", max_length=10, choices=Etat.choices, default=Etat.PREVUE)
    note_contexte = models.TextField("note de contexte", blank=True)
    note_contexte_fichier = models.FileField(
        "note de contexte (fichier)", upload_to="notes/", blank=True
    )
    note_envoyee_at = models.DateTimeField("note envoyée le", null=True, blank=True)

    objects = SeanceQuerySet.as_manager()

    class Meta:
        verbose_name = "séance"
        verbose_name_plural = "séances"
        ordering = ["cycle", "numero"]
        constraints = [
            models.UniqueConstraint(fields=["cycle", "numero"], name="seance_unique_numero"),
            models.CheckConstraint(
                condition=Q(heure_debut__lt=models.F("heure_fin")), name="seance_hours_ordered"
            ),
        ]

    def __str__(self):
        return f"Séance {self.numero} — {self.date:%d/%m/%Y}"

    @property
    def starts_at(self) -> datetime:
        """Its date and ``heure_debut``, Paris time (aware)."""
        return datetime.combine(self.date, self.heure_debut, tzinfo=PARIS)

    def has_started(self, now=None) -> bool:
        """The same rule as ``SeanceQuerySet.started``, on a séance already fetched."""
        return self.starts_at <= (now or timezone.now())

    @staticmethod
    def held_at(seances, moment):
        """Among ``seances`` (already fetched), the last one started at ``moment``, or None:
        the « current séance » of that moment (``Cycle.current_seance`` on a list)."""
        started = [s for s in seances if s.has_started(moment)]
        return max(started, key=lambda s: (s.starts_at, s.numero), default=None)

    @staticmethod
    def next_after(seances, moment):
        """Among ``seances``, the first one not started at ``moment`` (``Cycle.next_seance``)."""
        upcoming = [s for s in seances if not s.has_started(moment)]
        return min(upcoming, key=lambda s: (s.starts_at, s.numero), default=None)


def document_seance_upload_to(instance, filename):
    # Unguessable, extension kept for the browser; the original name lives in the database
    # (like an applicant's supporting documents, candidatures.models.piece_upload_to).
    suffix = PurePath(filename).suffix.lower()[:8]
    return f"seances/{instance.seance_id}/{secrets.token_urlsafe(24)}{suffix}"


class DocumentSeance(models.Model):
    """A document staff share with the participants on a séance's page (slides, readings…)."""

    seance = models.ForeignKey(
        Seance, on_delete=models.CASCADE, related_name="documents", verbose_name="séance"
    )
    titre = models.CharField(max_length=200)
    fichier = models.FileField(upload_to=document_seance_upload_to, max_length=200)
    nom_original = models.CharField("nom du fichier", max_length=200)
    type_mime = models.CharField("type", max_length=100)
    taille = models.PositiveIntegerField("taille (octets)")
    added_at = models.DateTimeField("ajouté le", default=timezone.now)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="ajouté par",
    )

    class Meta:
        verbose_name = "document de séance"
        verbose_name_plural = "documents de séance"
        ordering = ["seance", "added_at", "pk"]

    def __str__(self):
        return self.titre

    def get_admin_url(self):
        return reverse("admin:cycle_seance_document", args=[self.seance_id, self.pk])


class ParticipantQuerySet(models.QuerySet):
    def actifs(self):
        return self.exclude(statut=Participant.Statut.RETIRE)

    def of_user(self, user):
        """The participations a signed-in person belongs to (référent·e or binôme member)."""
        if not user.is_authenticated:
            return self.none()
        # Semi-joins rather than joins + DISTINCT, which would compare every column.
        referent = AccesCandidature.objects.filter(candidature=OuterRef("candidature"), user=user)
        # A member is recognised by their linked account or by their e-mail address: someone
        # whose account was created after enrolment, or whom staff added in the admin, has no
        # linked account yet.
        is_member = Q(user=user)
        if user.email:
            is_member |= Q(email__iexact=user.email)
        member = MembreBinome.objects.filter(is_member, participant=OuterRef("pk"))
        return self.filter(Exists(referent) | Exists(member))


class Participant(models.Model):
    """A retained collectivité taking part in the cycle."""

    class Statut(models.TextChoices):
        A_CONFIRMER = "a_confirmer", "À confirmer"
        CONFIRME = "confirme", "Confirmé"
        RETIRE = "retire", "Retiré"

    cycle = models.ForeignKey(Cycle, on_delete=models.CASCADE, related_name="participants")
    candidature = models.OneToOneField(
        Candidature, on_delete=models.PROTECT, related_name="participation"
    )
    statut = models.CharField(max_length=12, choices=Statut.choices, default=Statut.A_CONFIRMER)
    confirme_at = models.DateTimeField("confirmé le", null=True, blank=True)
    retire_at = models.DateTimeField("retiré le", null=True, blank=True)
    history = HistoricalRecords()

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        verbose_name = "participant"
        verbose_name_plural = "participants"
        ordering = ["cycle", "candidature__collectivite__nom"]

    def __str__(self):
        return self.candidature.collectivite.nom


class MembreBinome(models.Model):
    """One person a participant sends: élu·e or technicien·ne, titulaire or suppléant·e."""

    class Role(models.TextChoices):
        ELU = "elu", "Élu·e"
        TECHNICIEN = "technicien", "Technicien·ne"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="membres")
    role = models.CharField("rôle", max_length=10, choices=Role.choices)
    titulaire = models.BooleanField(default=True)
    nom = models.CharField("nom et prénom", max_length=150)
    fonction = models.CharField(max_length=200, blank=True)
    email = models.EmailField("e-mail")
    telephone = models.CharField("téléphone", max_length=20, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="binomes",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "membre du binôme"
        verbose_name_plural = "membres des binômes"
        ordering = ["participant", "-titulaire", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "role"],
                condition=Q(titulaire=True),
                name="binome_one_titulaire_per_role",
            ),
        ]

    def __str__(self):
        return f"{self.nom} ({self.get_role_display()})"


class Presence(models.Model):
    class Statut(models.TextChoices):
        PRESENT = "present", "Présent·e"
        ABSENT = "absent", "Absent·e"
        EXCUSE = "excuse", "Excusé·e"
        REMPLACE = "remplace", "Remplacé·e"

    seance = models.ForeignKey(Seance, on_delete=models.CASCADE, related_name="presences")
    membre = models.ForeignKey(MembreBinome, on_delete=models.CASCADE, related_name="presences")
    statut = models.CharField(max_length=10, choices=Statut.choices)
    remplacant = models.ForeignKey(
        MembreBinome,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="remplacements",
        verbose_name="remplacé·e par",
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "présence"
        verbose_name_plural = "présences"
        constraints = [
            models.UniqueConstraint(fields=["seance", "membre"], name="presence_unique"),
            models.CheckConstraint(
                condition=Q(statut="remplace", remplacant__isnull=False)
                | (~Q(statut="remplace") & Q(remplacant__isnull=True)),
                name="presence_replacement_named",
            ),
        ]

    def __str__(self):
        return f"{self.membre} — {self.seance} : {self.get_statut_display()}"


class EnvoiNoteContexte(SuiviEnvoi):
    """One context note e-mailed to one person (see SuiviEnvoi: attempts, failure retried)."""

    seance = models.ForeignKey(Seance, on_delete=models.CASCADE, related_name="envois_note")

    class Meta:
        verbose_name = "envoi de note de contexte"
        verbose_name_plural = "envois de notes de contexte"
        constraints = [
            models.UniqueConstraint(fields=["seance", "destinataire"], name="envoi_note_unique"),
        ]

    def __str__(self):
        return f"{self.seance} → {self.destinataire} — {self.get_statut_display()}"


class ReponseSondage(models.Model):
    """A participant's answer to the needs survey sent before the first séance."""

    participant = models.OneToOneField(
        Participant, on_delete=models.CASCADE, related_name="sondage"
    )
    suggestions = models.TextField("vos propres thèmes", blank=True)
    attentes = models.TextField("vos attentes pour le cycle", blank=True)
    submitted_at = models.DateTimeField(default=timezone.now)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "réponse au sondage des besoins"
        verbose_name_plural = "réponses au sondage des besoins"

    def __str__(self):
        return f"Sondage — {self.participant}"


class ChoixTheme(models.Model):
    reponse = models.ForeignKey(ReponseSondage, on_delete=models.CASCADE, related_name="choix")
    theme = models.CharField(max_length=30, choices=THEMES_APPEL)
    rang = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name = "thème choisi"
        verbose_name_plural = "thèmes choisis"
        ordering = ["reponse", "rang"]
        constraints = [
            models.UniqueConstraint(fields=["reponse", "theme"], name="choix_theme_unique"),
            models.UniqueConstraint(fields=["reponse", "rang"], name="choix_rang_unique"),
            models.CheckConstraint(
                condition=Q(rang__gte=1) & Q(rang__lte=8), name="choix_rang_range"
            ),
        ]

    def __str__(self):
        return f"{self.rang}. {self.get_theme_display()}"


# ---------------------------------------------------------------------------------------------
# Journal de bord


class EntreeJournalQuerySet(models.QuerySet):
    def readable_by(self, user):
        """Entries a person may read: their own, their binôme partner's « binôme » entries,
        and every shared one of the cycles they take part in. Staff read shared ones only."""
        if not user.is_authenticated:
            return self.none()
        shared = Q(visibilite=EntreeJournal.Visibilite.PARTAGEE)
        if user.is_staff:
            return self.filter(shared)
        mine = Participant.objects.of_user(user)
        their_cycles = Cycle.objects.filter(participants__in=mine)
        return self.filter(
            Q(auteur=user)
            | (Q(visibilite=EntreeJournal.Visibilite.BINOME) & Q(participant__in=mine))
            | (shared & Q(participant__cycle__in=their_cycles))
        )

    def partagees(self):
        return self.filter(visibilite=EntreeJournal.Visibilite.PARTAGEE)


class EntreeJournal(models.Model):
    """One entry of a participant's journal de bord, with the call's four prompts."""

    class Visibilite(models.TextChoices):
        PRIVEE = "privee", "Privée (moi seul·e)"
        BINOME = "binome", "Mon binôme"
        PARTAGEE = "partagee", "Partagée avec tout le cycle"

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="journal")
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="entrees_journal"
    )
    seance = models.ForeignKey(
        Seance,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="entrees_journal",
        help_text="Vide : entre deux séances.",
    )
    points_forts = models.TextField("points forts retenus", blank=True)
    points_vigilance = models.TextField("points de vigilance", blank=True)
    idees = models.TextField("idées", blank=True)
    marges_progression = models.TextField("marges de progression", blank=True)
    visibilite = models.CharField(
        "visibilité", max_length=10, choices=Visibilite.choices, default=Visibilite.PRIVEE
    )
    created_at = models.DateTimeField("écrite le", default=timezone.now)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    history = HistoricalRecords()

    objects = EntreeJournalQuerySet.as_manager()

    class Meta:
        verbose_name = "entrée du journal de bord"
        verbose_name_plural = "entrées du journal de bord"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(points_forts="", points_vigilance="", idees="", marges_progression=""),
                name="journal_at_least_one_prompt",
            ),
        ]

    def __str__(self):
        return f"{self.auteur} — {self.created_at:%d/%m/%Y}"


class ReponseFacilitateur(models.Model):
    """A facilitator's short reply to a shared entry."""

    entree = models.ForeignKey(EntreeJournal, on_delete=models.CASCADE, related_name="reponses")
    auteur = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True)
    texte = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "réponse de l'équipe"
        verbose_name_plural = "réponses de l'équipe"
        ordering = ["entree", "created_at"]

    def __str__(self):
        return self.texte[:50]


class Engagement(models.Model):
    """What a collectivité commits to try on its territory, with its progress."""

    class Nature(models.TextChoices):
        PRESENTATION_ELUS = "presentation", "Présenter les messages du cycle aux élu·es"
        OUTIL = "outil", "Déployer un outil"
        ECHANGE = "echange", "Échanger avec une autre collectivité"
        AMO = "amo", "Mobiliser une assistance à maîtrise d'ouvrage"
        AUTRE = "autre", "Autre"

    class Statut(models.TextChoices):
        PREVU = "prevu", "Prévu"
        EN_COURS = "en_cours", "En cours"
        REALISE = "realise", "Réalisé"
        ABANDONNE = "abandonne", "Abandonné"

    participant = models.ForeignKey(
        Participant, on_delete=models.CASCADE, related_name="engagements"
    )
    nature = models.CharField(max_length=15, choices=Nature.choices)
    description = models.TextField()
    statut = models.CharField(max_length=10, choices=Statut.choices, default=Statut.PREVU)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "engagement à expérimenter"
        verbose_name_plural = "engagements à expérimenter"
        ordering = ["participant", "created_at"]

    def __str__(self):
        return f"{self.participant} — {self.get_nature_display()}"


class AvancementEngagement(models.Model):
    """A dated progress update of an engagement."""

    engagement = models.ForeignKey(Engagement, on_delete=models.CASCADE, related_name="avancements")
    date = models.DateField(default=timezone.localdate)
    texte = models.TextField()
    statut = models.CharField(max_length=10, choices=Engagement.Statut.choices)
    auteur = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = "avancement"
        verbose_name_plural = "avancements"
        ordering = ["engagement", "date"]

    def __str__(self):
        return f"{self.date:%d/%m/%Y} — {self.get_statut_display()}"
