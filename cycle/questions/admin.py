"""The team's inbox of « Questions au Cerdd »: every question in one list (unanswered first,
with their count and age), filtered by cycle, état and colleague; one page per question to
assign it, answer it and publish the answer in the cycle's FAQ (``<pk>/repondre/``).

Nobody edits a question here; only superusers delete one (an erasure the DPO asked for), and
its file leaves storage with it."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from cerdd_ami.admin import DeletesStoredFilesMixin, ReadOnlyAdminMixin
from cerdd_ami.files import private_file_response
from cerdd_ami.notifications.services import mark_read

from . import services
from .forms import AssignForm, FAQForm, ReponseForm
from .models import EntreeFAQ, QuestionCerdd

ANSWER_PERMISSION = "cycle.change_questioncerdd"
PUBLISH_PERMISSION = "cycle.add_entreefaq"


def waiting_since(question, now=None) -> str:
    """« en attente depuis 3 jours » (whole days since the question was asked)."""
    days = ((now or timezone.now()) - question.created_at).days
    if days <= 0:
        return "en attente depuis aujourd'hui"
    return f"en attente depuis {days} jour{'s' if days > 1 else ''}"


class EtatFilter(admin.SimpleListFilter):
    title = "état"
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return QuestionCerdd.Etat.choices

    def queryset(self, request, queryset):
        if self.value() == QuestionCerdd.Etat.EN_ATTENTE:
            return queryset.filter(repondue_at__isnull=True)
        if self.value() == QuestionCerdd.Etat.REPONDUE:
            return queryset.filter(repondue_at__isnull=False)
        return queryset


@admin.register(QuestionCerdd)
class QuestionAdmin(DeletesStoredFilesMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "collectivite", "extrait", "seance_numero", "etat", "confiee"]
    list_display_links = None
    list_filter = [
        "participant__cycle",
        EtatFilter,
        ("assignee", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["participant__candidature__collectivite", "seance", "assignee"]
    search_fields = ["participant__candidature__collectivite__nom", "texte", "reponse"]
    ordering = [F("repondue_at").desc(nulls_first=True), "created_at"]
    fields = [
        "participant",
        "auteur",
        "seance",
        "created_at",
        "texte",
        "nom_original",
        "assignee",
        "reponse",
        "repondue_par",
        "repondue_at",
    ]

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    @admin.display(
        description="collectivité", ordering="participant__candidature__collectivite__nom"
    )
    def collectivite(self, obj):
        return str(obj.participant)

    @admin.display(description="question")
    def extrait(self, obj):
        texte = obj.texte[:80] + ("…" if len(obj.texte) > 80 else "")
        return format_html('<a href="{}">{}</a>', obj.staff_url(), texte)

    @admin.display(description="séance", ordering="seance__numero")
    def seance_numero(self, obj):
        return f"Séance {obj.seance.numero}" if obj.seance else "—"

    @admin.display(description="état", ordering="repondue_at")
    def etat(self, obj):
        if obj.repondue_at:
            return "Répondue"
        return waiting_since(obj)

    @admin.display(description="confiée à", ordering="assignee__email")
    def confiee(self, obj):
        return str(obj.assignee) if obj.assignee else "—"

    def changelist_view(self, request, extra_context=None):
        queryset = self.get_queryset(request)
        pending = queryset.en_attente().count()
        extra_context = {
            **(extra_context or {}),
            "title": "Questions au Cerdd",
            "subtitle": f"{pending} question{'s' if pending > 1 else ''} en attente de réponse"
            if pending
            else "Aucune question en attente de réponse",
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/repondre/", wrap(self.repondre_view), name="cycle_questioncerdd_repondre"
            ),
            path("<int:pk>/fichier/", wrap(self.fichier_view), name="cycle_questioncerdd_fichier"),
            *super().get_urls(),
        ]

    def _question(self, request, pk) -> QuestionCerdd:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            self.get_queryset(request).select_related(
                "participant__cycle", "auteur", "repondue_par", "entree_faq"
            ),
            pk=pk,
        )

    def fichier_view(self, request, pk):
        question = self._question(request, pk)
        if not question.fichier:
            raise Http404
        return private_file_response(question.fichier, question.nom_original, question.type_mime)

    def repondre_view(self, request, pk):
        question = self._question(request, pk)
        can_answer = request.user.has_perm(ANSWER_PERMISSION)
        can_publish = request.user.has_perm(PUBLISH_PERMISSION)
        entree = getattr(question, "entree_faq", None)
        assign_form = AssignForm(prefix="assign", initial={"assignee": question.assignee_id})
        reponse_form = ReponseForm(prefix="reponse", initial={"reponse": question.reponse})
        faq_form = FAQForm(
            prefix="faq",
            initial={
                "question_texte": entree.question_texte if entree else question.texte,
                "reponse": entree.reponse if entree else question.reponse,
            },
        )
        if request.method == "POST":
            if "publier" in request.POST:
                if not can_publish:
                    raise PermissionDenied
                faq_form = FAQForm(request.POST, prefix="faq")
                if faq_form.is_valid() and self._run(
                    request,
                    faq_form,
                    lambda data: services.publish_to_faq(
                        question=question, staff_user=request.user, **data
                    ),
                    "La réponse est publiée dans la FAQ du cycle, sans l'identité de qui "
                    "l'a posée.",
                ):
                    return redirect(question.staff_url())
            elif not can_answer:
                raise PermissionDenied
            elif "confier" in request.POST:
                assign_form = AssignForm(request.POST, prefix="assign")
                if assign_form.is_valid() and self._run(
                    request,
                    assign_form,
                    lambda data: services.assign_question(
                        question=question, staff_user=request.user, **data
                    ),
                    "La question est confiée.",
                ):
                    return redirect(question.staff_url())
            else:
                reponse_form = ReponseForm(request.POST, prefix="reponse")
                if reponse_form.is_valid() and self._run(
                    request,
                    reponse_form,
                    lambda data: services.answer_question(
                        question=question, staff_user=request.user, **data
                    ),
                    "Réponse enregistrée ; la personne qui a posé la question est prévenue.",
                ):
                    return redirect(question.staff_url())
        mark_read(user=request.user, url=request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Question de {question.participant}",
            "opts": self.model._meta,
            "question": question,
            "attente": "" if question.repondue_at else waiting_since(question),
            "entree": entree,
            "assign_form": assign_form,
            "reponse_form": reponse_form,
            "faq_form": faq_form,
            "can_answer": can_answer,
            "can_publish": can_publish and question.repondue_at is not None,
        }
        return TemplateResponse(
            request,
            "admin/cycle/questioncerdd/repondre.html",
            context,
            status=400 if request.method == "POST" else 200,
        )

    def _run(self, request, form, action, success) -> bool:
        try:
            action(form.cleaned_data)
        except ValidationError as error:
            for text in error.messages:
                form.add_error(None, text)
            return False
        messages.success(request, success)
        return True


@admin.register(EntreeFAQ)
class EntreeFAQAdmin(admin.ModelAdmin):
    """Entries are published from a question (« Publier dans la FAQ du cycle »); here staff
    reword or withdraw them."""

    list_display = ["question_texte", "cycle", "publiee_at"]
    list_filter = ["cycle"]
    list_select_related = ["cycle"]
    search_fields = ["question_texte", "reponse"]
    fields = ["cycle", "question_texte", "reponse", "publiee_at", "publiee_par", "origine"]
    readonly_fields = ["cycle", "publiee_at", "publiee_par", "origine"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="question d'origine")
    def origine(self, obj):
        if obj.question_id is None:
            return "—"
        return format_html(
            '<a href="{}">Voir la question</a>',
            reverse("admin:cycle_questioncerdd_repondre", args=[obj.question_id]),
        )
