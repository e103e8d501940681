"""A collectivité's dossier (Candidature) and what hangs on it: who may edit it, its pieces,
its submissions (Depot) with their frozen content, its event log; drafts listed apart."""

import functools
import secrets
from pathlib import PurePath

from django.apps import apps
from django.conf import settings
from django.db import connections, models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from candidatures.appels.models import Appel, Collectivite
from candidatures.questionnaires.models import EtapeQuestionnaire, Question, Reponse
from cerdd_ami.formats import format_integer_fr
from cerdd_ami.queries import CompiledQuery, instance_from_row, select_columns

# ---------------------------------------------------------------------------------------------
# Candidature


class CandidatureQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Dossiers an applicant may read and edit: those they were given access to."""
        if not user.is_authenticated:
            return self.none()
        # A plain join: an access is unique per (dossier, user), so no row comes twice and no
        # DISTINCT is needed (DISTINCT over every column, long answers included, made this the
        # costliest query of each page of the application journey). Cheaper to build than a
        # semi-join, on every page of the journey.
        return self.filter(acces__user=user)

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
        # Jury models live in a later layer (candidatures.jury): looked up by name, not imported.
        MembreJury = apps.get_model("candidatures", "MembreJury")
        Affectation = apps.get_model("candidatures", "Affectation")
        ConflitInteret = apps.get_model("candidatures", "ConflitInteret")
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


class CandidatureManager(models.Manager.from_queryset(CandidatureQuerySet)):
    def visible_one(self, user, pk) -> "Candidature | None":
        """``visible_to(user).select_related("appel", "collectivite", "collectivite__epci")
        .get(pk=pk)``, or None (another's dossier, or none with that id).

        Every page of the application journey starts with it: one hand-written query (the
        dossier joined to the user's access, its call, its collectivité and that one's EPCI),
        read in 0.2 ms of CPU where the ORM built the same query in 0.9 ms (docs/performance.md).
        Same scope as ``visible_to`` and same columns and converters as the ORM: a test compares
        both, field by field, and for someone else's dossier.
        """
        connection = connections[self.db]
        low, high = connection.ops.integer_field_range(Candidature._meta.pk.get_internal_type())
        if not user.is_authenticated or not low <= pk <= high:  # as the ORM: none, no error
            return None
        with connection.cursor() as cursor:
            cursor.execute(_visible_one_sql(self.db), [user.pk, pk])
            row = cursor.fetchone()
        if row is None:
            return None
        parts = []
        for model in (Candidature, Appel, Collectivite, Collectivite):
            width = len(model._meta.concrete_fields)
            values, row = row[:width], row[width:]
            if values[0] is None:  # no EPCI (LEFT JOIN)
                parts.append(None)
            else:
                parts.append(instance_from_row(model, values, using=self.db, connection=connection))
        candidature, appel, collectivite, epci = parts
        collectivite.epci = epci
        candidature.appel, candidature.collectivite = appel, collectivite
        return candidature


@functools.cache
def _visible_one_sql(using: str) -> str:
    connection = connections[using]
    qn = connection.ops.quote_name
    columns = ", ".join(
        select_columns(Candidature, "c", connection)
        + select_columns(Appel, "a", connection)
        + select_columns(Collectivite, "t", connection)
        + select_columns(Collectivite, "e", connection)
    )
    table = qn(Collectivite._meta.db_table)
    # Names from the models' metadata only; the user's and the dossier's ids are parameters.
    return (
        f"SELECT {columns} FROM {qn(Candidature._meta.db_table)} c "  # noqa: S608
        f"JOIN {qn(AccesCandidature._meta.db_table)} x "
        f"ON x.{qn('candidature_id')} = c.{qn('id')} "
        f"JOIN {qn(Appel._meta.db_table)} a ON a.{qn('id')} = c.{qn('appel_id')} "
        f"JOIN {table} t ON t.{qn('id')} = c.{qn('collectivite_id')} "
        f"LEFT JOIN {table} e ON e.{qn('id')} = t.{qn('epci_id')} "
        f"WHERE x.{qn('user_id')} = %s AND c.{qn('id')} = %s"
    )


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

    # Legacy: the 2021 form's fixed questions, copied into Reponse rows by migration 0018 and
    # no longer read or written (the call's questionnaire holds them now). Kept one release so
    # that the migration can be reversed; to be dropped.
    motivations = models.TextField(blank=True)
    actions = models.TextField("actions déjà réalisées ou prévues", blank=True)
    pistes = models.TextField("pistes de travail envisagées", blank=True)
    besoins = models.TextField("principaux besoins identifiés", blank=True)

    # Last step: commitments
    engagement_binome = models.BooleanField(default=False)
    engagement_experimentation = models.BooleanField(default=False)
    consentement_donnees = models.BooleanField(default=False)

    objects = CandidatureManager()

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
    ]
    # The questionnaire's steps come after these two; the commitments' step is the last one.
    FIXED_STEPS = 2

    # The boxes of the last step, with what the deposit says when one is left unticked.
    ENGAGEMENTS = {
        "engagement_binome": "L'engagement à venir en binôme élu·e / technicien·ne manque.",
        "engagement_experimentation": "L'engagement à expérimenter sur le territoire manque.",
        "consentement_donnees": "Le consentement au traitement des données personnelles manque.",
    }

    def questionnaire(self, steps=None) -> list[tuple[int, object, list]]:
        """The call's questionnaire as (step number, EtapeQuestionnaire, [Question]).

        ``steps`` as given by ``EtapeQuestionnaire.objects.with_questions(appel)``; without
        it they are read through .all(): a page or list that prefetched
        ``appel__etapes_questionnaire__questions`` asks nothing more.
        """
        if steps is None:
            steps = [
                (etape, list(etape.questions.all()))
                for etape in self.appel.etapes_questionnaire.all()
            ]
        return [
            (self.FIXED_STEPS + index, etape, questions)
            for index, (etape, questions) in enumerate(steps, start=1)
        ]

    def read_questionnaire(self) -> list[tuple[int, object, list]]:
        """``questionnaire()`` read now, in one query: one dossier's pages and its deposit."""
        return self.questionnaire(EtapeQuestionnaire.objects.with_questions(self.appel))

    # The dossier page's three lists, run on each of its views with only the dossier changing:
    # their SQL is built once (CompiledQuery), the people as their e-mail addresses only.
    _depots_read = CompiledQuery(
        lambda pk: Depot.objects.filter(candidature=pk).defer("contenu").order_by("-version")
    )
    _evenements_read = CompiledQuery(
        lambda pk: (
            Evenement.objects.filter(candidature=pk)
            .annotate(actor_email=F("actor__email"))
            .order_by("at", "pk")
        )
    )
    _acces_read = CompiledQuery(
        lambda pk: (
            AccesCandidature.objects.filter(candidature=pk)
            .annotate(user_email=F("user__email"))
            .order_by("created_at", "pk")
        )
    )

    def read_depots(self) -> list:
        """Its deposits, the latest first, without their frozen copy (``contenu``)."""
        return self._depots_read(self.pk)

    def read_evenements(self) -> list:
        """Its event log in order, each with ``actor_email`` (None for the system)."""
        return self._evenements_read(self.pk)

    def read_acces(self) -> list:
        """Who has access, in the order they were given it, each with ``user_email``."""
        return self._acces_read(self.pk)

    def engagements_step(self, questionnaire=None) -> int:
        """The number of the last step (commitments and deposit)."""
        if questionnaire is None:
            questionnaire = self.questionnaire()
        return self.FIXED_STEPS + len(questionnaire) + 1

    # One dossier's answers (in no order: each is placed by its question) and pieces (in upload
    # order), read on every page of the journey: their SQL is built once (CompiledQuery).
    _reponses_read = CompiledQuery(lambda pk: Reponse.objects.filter(candidature=pk).order_by())
    _pieces_read = CompiledQuery(
        lambda pk: PieceJointe.objects.filter(candidature=pk).order_by("uploaded_at", "pk")
    )
    _answers_read = None

    def read_answers(self) -> None:
        """Read its answers and pieces now, for ``valeurs()`` and ``pieces_list()``: one
        dossier's page or deposit. A list of dossiers prefetches ``reponses`` and ``pieces``."""
        self._answers_read = (self._reponses_read(self.pk), self._pieces_read(self.pk))

    def valeurs(self) -> dict:
        """{question pk: stored answer}: as read by ``read_answers()``, else through .all()
        (prefetch ``reponses``)."""
        reponses = self._answers_read[0] if self._answers_read else self.reponses.all()
        return {reponse.question_id: reponse.valeur for reponse in reponses}

    def pieces_list(self) -> list:
        """Its pieces: as read by ``read_answers()``, else through .all() (prefetch ``pieces``)."""
        return list(self._answers_read[1] if self._answers_read else self.pieces.all())

    def missing_items(self, questionnaire=None) -> list[tuple[int, str]]:
        """What must still be filled before submission, as (step, French message)."""
        if questionnaire is None:
            questionnaire = self.questionnaire()
        missing = []
        for step, field, label in self.DEPOSIT_FIELDS:
            if not str(getattr(self, field)).strip():
                missing.append((step, f"Il manque {label}."))
        valeurs = self.valeurs()
        with_files = {piece.question_id for piece in self.pieces_list()}
        for step, _etape, questions in questionnaire:
            for question in questions:
                if not question.obligatoire:
                    continue
                if question.est_fichier:
                    answered = question.pk in with_files
                else:
                    answered = question.is_answered(valeurs.get(question.pk))
                if not answered:
                    missing.append((step, question.missing_message()))
                elif question.type == Question.Type.TEXTE_LONG and question.option(
                    "min_caracteres"
                ):
                    minimum = question.option("min_caracteres")
                    if len(str(valeurs.get(question.pk)).strip()) < minimum:
                        missing.append(
                            (
                                step,
                                f"La réponse à « {question.titre} » compte moins de "
                                f"{format_integer_fr(minimum)} caractères.",
                            )
                        )
        last = self.engagements_step(questionnaire)
        for field, message in self.ENGAGEMENTS.items():
            if not getattr(self, field):
                missing.append((last, message))
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
    """A file answering one of the call's file questions."""

    class Nature(models.TextChoices):
        # Legacy: the 2021 form's two kinds of pieces, before file questions (migration 0018).
        LETTRE_MOTIVATION = "lettre", "Lettre de motivation"
        COMPLEMENTAIRE = "complement", "Document complémentaire"

    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="pieces")
    question = models.ForeignKey(
        Question, on_delete=models.PROTECT, related_name="pieces", null=True
    )
    nature = models.CharField(max_length=12, choices=Nature.choices, blank=True)
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
        ordering = ["candidature", "question__etape__ordre", "question__ordre", "uploaded_at"]

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
    # Empty for a moment after the submission: the receipt is rendered by the worker once the
    # deposit is committed (``submission.issue_receipt_task``), or later by the sweep.
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
        DEMANDE_COMPLEMENT = "demande_complement", "Complément demandé"
        COMPLEMENT = "complement", "Complément ajouté"

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
