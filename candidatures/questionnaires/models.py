"""A call's questionnaire: the questions of its application form, grouped in steps
(EtapeQuestionnaire, Question), and a dossier's answers to them (Reponse).

The product's own structure (collectivité, contact details, référent·es, commitments, deposit)
is not here: only what staff define per call. A file question's files are the dossier's
PieceJointe rows pointing to it (candidatures.dossiers). Reponse points to the dossier by name:
this layer sits below candidatures.dossiers and never imports it.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import connections, models

from candidatures.appels.models import Appel
from cerdd_ami import files
from cerdd_ami.formats import format_date_fr
from cerdd_ami.queries import instance_from_row, select_columns

# The file formats a file question may accept, as (option key, MIME type, label).
FILE_FORMATS = {
    "pdf": files.PDF,
    "doc": files.DOC,
    "docx": files.DOCX,
    "odt": files.ODT,
    "png": files.PNG,
    "jpeg": files.JPEG,
}
DOCUMENT_FORMATS = ["pdf", "doc", "docx", "odt"]
AUTRE = "__autre__"


class EtapeQuestionnaireQuerySet(models.QuerySet):
    def with_questions(self, appel) -> list[tuple["EtapeQuestionnaire", list["Question"]]]:
        """The call's steps in order (``ordre``, then id), each with its questions in order.

        Every page of the application journey and the dossier page need the whole
        questionnaire: one hand-written query (steps LEFT JOIN questions) instead of two ORM
        queries, whose building cost about 0.8 ms of CPU per page against 0.1 ms here
        (docs/performance.md). The columns come from the models' own fields, and values go
        through each field's database converter as the ORM would; a test compares the result
        with the ORM's, field by field.
        """
        connection = connections[self.db]
        qn = connection.ops.quote_name
        columns = ", ".join(
            select_columns(EtapeQuestionnaire, "e", connection)
            + select_columns(Question, "q", connection)
        )
        # Names from the models' metadata only; the one value is a bound parameter.
        sql = (
            f"SELECT {columns} FROM {qn(EtapeQuestionnaire._meta.db_table)} e "  # noqa: S608
            f"LEFT JOIN {qn(Question._meta.db_table)} q ON q.{qn('etape_id')} = e.{qn('id')} "
            f"WHERE e.{qn('appel_id')} = %s "
            f"ORDER BY e.{qn('ordre')}, e.{qn('id')}, q.{qn('ordre')}, q.{qn('id')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [appel.pk])
            rows = cursor.fetchall()
        width = len(EtapeQuestionnaire._meta.concrete_fields)
        steps = []
        for row in rows:
            if not steps or steps[-1][0].pk != row[0]:
                etape = instance_from_row(
                    EtapeQuestionnaire, row[:width], using=self.db, connection=connection
                )
                steps.append((etape, []))
            if row[width] is not None:  # a step without questions yet
                steps[-1][1].append(
                    instance_from_row(Question, row[width:], using=self.db, connection=connection)
                )
        return steps


class EtapeQuestionnaire(models.Model):
    """One page of a call's questionnaire, between the référent·es and the commitments."""

    appel = models.ForeignKey(Appel, on_delete=models.CASCADE, related_name="etapes_questionnaire")
    ordre = models.PositiveSmallIntegerField(default=1)
    titre = models.CharField(max_length=120)
    intro = models.TextField("introduction", blank=True)

    objects = EtapeQuestionnaireQuerySet.as_manager()

    class Meta:
        verbose_name = "étape du questionnaire"
        verbose_name_plural = "étapes du questionnaire"
        ordering = ["appel", "ordre", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["appel", "ordre"], name="etape_unique_ordre"),
        ]

    def __str__(self):
        return f"{self.ordre}. {self.titre}"


class Question(models.Model):
    class Type(models.TextChoices):
        TEXTE_COURT = "texte_court", "Texte court"
        TEXTE_LONG = "texte_long", "Texte long"
        CHOIX_UNIQUE = "choix_unique", "Choix unique"
        CHOIX_MULTIPLE = "choix_multiple", "Choix multiple"
        OUI_NON = "oui_non", "Oui / non"
        NOMBRE = "nombre", "Nombre"
        DATE = "date", "Date"
        EMAIL = "email", "E-mail"
        TELEPHONE = "telephone", "Téléphone"
        URL = "url", "Adresse web (URL)"
        FICHIER = "fichier", "Fichier"

    etape = models.ForeignKey(
        EtapeQuestionnaire, on_delete=models.CASCADE, related_name="questions"
    )
    ordre = models.PositiveSmallIntegerField(default=1)
    code = models.SlugField(
        max_length=50,
        help_text="Nom technique, unique dans l'appel (colonnes des exports). Lettres, chiffres, "
        "tirets : par exemple « motivations ».",
    )
    libelle = models.CharField("libellé", max_length=500)
    libelle_court = models.CharField(
        "libellé court",
        max_length=120,
        blank=True,
        help_text="En tête de colonne des exports et sur les pages du jury (le libellé sinon).",
    )
    aide = models.TextField("aide", blank=True)
    obligatoire = models.BooleanField(default=True, help_text="Requise pour déposer le dossier.")
    manque = models.CharField(
        "ce qui manque",
        max_length=200,
        blank=True,
        help_text="Pour le message « Il manque … » avant le dépôt, par exemple « les motivations "
        "de la collectivité ». Vide : « Il manque la réponse à « libellé » ».",
    )
    type = models.CharField(max_length=20, choices=Type.choices, default=Type.TEXTE_LONG)
    # choix (list of str), autre (bool), min_caracteres / max_caracteres (int), min / max
    # (number), formats (keys of FILE_FORMATS), taille_max_mo (int), plusieurs (bool).
    options = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "question"
        verbose_name_plural = "questions"
        ordering = ["etape__ordre", "ordre", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["etape", "ordre"], name="question_unique_ordre"),
            models.UniqueConstraint(fields=["etape", "code"], name="question_unique_code"),
        ]

    def __str__(self):
        return self.titre

    @property
    def titre(self) -> str:
        return self.libelle_court or self.libelle

    @property
    def est_fichier(self) -> bool:
        return self.type == self.Type.FICHIER

    def option(self, key, default=None):
        value = (self.options or {}).get(key)
        return default if value in (None, "") else value

    def missing_message(self) -> str:
        if self.manque:
            return f"Il manque {self.manque}."
        return f"Il manque la réponse à « {self.titre} »."

    def mime_types(self) -> dict[str, str]:
        """The accepted MIME types of a file question, with their labels."""
        keys = self.option("formats") or DOCUMENT_FORMATS
        labels = {**files.DOCUMENT_TYPES, **files.IMAGE_TYPES}
        return {FILE_FORMATS[key]: labels[FILE_FORMATS[key]] for key in keys if key in FILE_FORMATS}

    def is_answered(self, valeur) -> bool:
        if self.type in (self.Type.CHOIX_UNIQUE, self.Type.CHOIX_MULTIPLE):
            valeur = valeur or {}
            return bool(valeur.get("choix"))
        if self.type == self.Type.OUI_NON:
            return valeur in (True, False)
        return bool(str(valeur or "").strip())

    def display(self, valeur) -> str:
        """The answer as plain French text (snapshot, exports, pages of staff and jurors)."""
        if valeur in (None, "", [], {}):
            return ""
        if self.type == self.Type.OUI_NON:
            return "Oui" if valeur is True else "Non" if valeur is False else ""
        if self.type in (self.Type.CHOIX_UNIQUE, self.Type.CHOIX_MULTIPLE):
            labels = [choice for choice in valeur.get("choix", []) if choice != AUTRE]
            if AUTRE in valeur.get("choix", []):
                labels.append(f"Autre : {valeur.get('autre', '')}".rstrip(" :"))
            return ", ".join(labels)
        if self.type == self.Type.DATE:
            try:
                return format_date_fr(date.fromisoformat(valeur))
            except (TypeError, ValueError):
                return str(valeur)
        if self.type == self.Type.NOMBRE:
            try:
                return format(Decimal(str(valeur)).normalize(), "f").replace(".", ",")
            except InvalidOperation:
                return str(valeur)
        return str(valeur)


class Reponse(models.Model):
    """A dossier's answer to one question (files aside: they are its PieceJointe rows)."""

    candidature = models.ForeignKey(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="reponses"
    )
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="reponses")
    valeur = models.JSONField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "réponse"
        verbose_name_plural = "réponses"
        ordering = ["candidature", "question__etape__ordre", "question__ordre"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidature", "question"], name="reponse_unique_question"
            ),
        ]

    def __str__(self):
        return f"{self.question.titre} — {self.candidature_id}"
