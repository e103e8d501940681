"""Admin of a call's questionnaire: its steps with their questions inline, the options of
each question as plain fields, the safe-change rules once a dossier was deposited, and a
preview of the whole form as an applicant sees it."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from candidatures.appels.models import Appel

from .forms import QuestionnaireForm
from .models import FILE_FORMATS, EtapeQuestionnaire, Question
from .services import LOCKED_STEP_DELETE, check_question_change, has_deposits

FORMAT_CHOICES = [(key, key.upper()) for key in FILE_FORMATS]


class QuestionAdminForm(forms.ModelForm):
    """``options`` edited as fields: only those of the question's type are kept."""

    choix = forms.CharField(
        label="choix proposés",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Choix unique ou multiple : un choix par ligne.",
    )
    autre = forms.BooleanField(label="« Autre : … » proposé", required=False)
    min_caracteres = forms.IntegerField(label="caractères au moins", required=False, min_value=0)
    max_caracteres = forms.IntegerField(label="caractères au plus", required=False, min_value=1)
    min = forms.DecimalField(label="nombre minimal", required=False)
    max = forms.DecimalField(label="nombre maximal", required=False)
    formats = forms.MultipleChoiceField(
        label="formats acceptés",
        required=False,
        choices=FORMAT_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    taille_max_mo = forms.IntegerField(label="taille maximale (Mo)", required=False, min_value=1)
    plusieurs = forms.BooleanField(label="plusieurs fichiers", required=False)

    OPTION_FIELDS = {
        Question.Type.TEXTE_COURT: ["max_caracteres"],
        Question.Type.TEXTE_LONG: ["min_caracteres", "max_caracteres"],
        Question.Type.CHOIX_UNIQUE: ["choix", "autre"],
        Question.Type.CHOIX_MULTIPLE: ["choix", "autre"],
        Question.Type.NOMBRE: ["min", "max"],
        Question.Type.FICHIER: ["formats", "taille_max_mo", "plusieurs"],
    }

    class Meta:
        model = Question
        fields = [
            "ordre",
            "code",
            "libelle",
            "libelle_court",
            "aide",
            "obligatoire",
            "manque",
            "type",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        options = self.instance.options or {}
        for name in ("autre", "min_caracteres", "max_caracteres", "min", "max"):
            self.fields[name].initial = options.get(name)
        self.fields["choix"].initial = "\n".join(options.get("choix", []))
        self.fields["formats"].initial = options.get("formats", [])
        self.fields["taille_max_mo"].initial = options.get("taille_max_mo")
        self.fields["plusieurs"].initial = options.get("plusieurs", False)

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("type") or self.instance.type
        if self.instance.pk and "type" in self.changed_data:
            try:
                check_question_change(question=self.instance, new_type=kind)
            except ValidationError as error:
                self.add_error("type", error)
        options = {}
        for name in self.OPTION_FIELDS.get(kind, []):
            value = cleaned.get(name)
            if name == "choix":
                value = [line.strip() for line in (value or "").splitlines() if line.strip()]
            if value not in (None, "", [], False):
                options[name] = str(value) if name in ("min", "max") else value
        choice = kind in (Question.Type.CHOIX_UNIQUE, Question.Type.CHOIX_MULTIPLE)
        if choice and not options.get("choix"):
            self.add_error("choix", "Indiquez au moins un choix, un par ligne.")
        if kind == Question.Type.FICHIER and not options.get("formats"):
            self.add_error("formats", "Cochez au moins un format de fichier.")
        self.instance.options = options
        return cleaned


class QuestionFormSet(BaseInlineFormSet):
    """A question of a call with a deposited dossier cannot be deleted (the reason shows)."""

    def clean(self):
        super().clean()
        codes = set(
            Question.objects.filter(etape__appel=self.instance.appel_id)
            .exclude(etape=self.instance)
            .values_list("code", flat=True)
        )
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or not form.cleaned_data:
                continue
            if form.cleaned_data.get("DELETE") and form.instance.pk:
                form.instance.etape = self.instance
                try:
                    check_question_change(question=form.instance, deleting=True)
                except ValidationError as error:
                    form.add_error(None, error)
                    raise ValidationError(error.messages) from None
            code = form.cleaned_data.get("code")
            if code and not form.cleaned_data.get("DELETE"):
                if code in codes:
                    form.add_error("code", "Ce nom technique est déjà pris dans cet appel.")
                codes.add(code)


class QuestionInline(admin.StackedInline):
    model = Question
    form = QuestionAdminForm
    formset = QuestionFormSet
    extra = 0
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("ordre", "code", "type", "obligatoire"),
                    "libelle",
                    ("libelle_court", "manque"),
                    "aide",
                ]
            },
        ),
        (
            "Options selon le type",
            {
                "fields": [
                    ("choix", "autre"),
                    ("min_caracteres", "max_caracteres"),
                    ("min", "max"),
                    ("formats", "taille_max_mo", "plusieurs"),
                ]
            },
        ),
    ]


@admin.register(EtapeQuestionnaire)
class EtapeQuestionnaireAdmin(admin.ModelAdmin):
    list_display = ["__str__", "appel", "nb_questions"]
    list_filter = ["appel"]
    list_select_related = ["appel"]
    fields = ["appel", "ordre", "titre", "intro", "apercu"]
    readonly_fields = ["apercu"]
    inlines = [QuestionInline]

    @admin.display(description="questions")
    def nb_questions(self, obj):
        return obj.questions.count()

    @admin.display(description="aperçu")
    def apercu(self, obj):
        if obj is None or obj.appel_id is None:
            return "—"
        url = reverse("admin:candidatures_etapequestionnaire_apercu", args=[obj.appel_id])
        return format_html('<a href="{}">Prévisualiser le formulaire</a>', url)

    def has_delete_permission(self, request, obj=None):
        # Hidden once the call has a deposited dossier (LOCKED_STEP_DELETE says why).
        if obj is not None and has_deposits(obj.appel):
            return False
        return super().has_delete_permission(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and has_deposits(obj.appel):
            context["subtitle"] = LOCKED_STEP_DELETE
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_urls(self):
        view = self.admin_site.admin_view(self.apercu_view)
        return [
            path("apercu/<int:appel_pk>/", view, name="candidatures_etapequestionnaire_apercu"),
            *super().get_urls(),
        ]

    def apercu_view(self, request, appel_pk):
        """« Prévisualiser le formulaire »: every step's form as an applicant sees it,
        disabled."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        appel = get_object_or_404(Appel, pk=appel_pk)
        etapes = EtapeQuestionnaire.objects.filter(appel=appel).prefetch_related("questions")
        forms_ = []
        for etape in etapes:
            form = QuestionnaireForm(etape=etape, questions=etape.questions.all())
            for field in form.fields.values():
                field.disabled = True
            forms_.append(form)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Aperçu du formulaire — {appel.titre}",
            "appel": appel,
            "forms": forms_,
            "opts": self.model._meta,
        }
        return TemplateResponse(
            request, "admin/candidatures/etapequestionnaire/apercu.html", context
        )


class EtapeInline(admin.TabularInline):
    """On the call's page: its questionnaire's steps, each edited on its own page."""

    model = EtapeQuestionnaire
    fields = ["ordre", "titre"]
    show_change_link = True
    extra = 0
    verbose_name_plural = (
        "questionnaire : étapes (les questions se modifient sur la fiche de chaque étape, "
        "qui offre aussi l'aperçu du formulaire)"
    )

    def has_delete_permission(self, request, obj=None):
        if obj is not None and has_deposits(obj):
            return False
        return super().has_delete_permission(request, obj)
