"""The team's side of the dossiers' threads: every message in one list (the inbox), and one
page per dossier to read its thread, answer, and send a « demande de complément »."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from candidatures.dossiers.models import Candidature
from cerdd_ami.admin import ReadOnlyAdminMixin
from cerdd_ami.notifications.services import mark_read

from . import services
from .forms import DemandeComplementForm, MessageForm
from .models import Message
from .views import save_message, thread_messages


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "dossier", "nature", "de", "extrait", "fil"]
    list_filter = ["nature", "de_l_equipe", "candidature__appel"]
    search_fields = ["candidature__collectivite__nom", "candidature__numero", "texte"]
    list_select_related = ["candidature__collectivite", "auteur"]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]

    @admin.display(description="dossier", ordering="candidature__collectivite__nom")
    def dossier(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="de")
    def de(self, obj):
        return "Cerdd" if obj.de_l_equipe else getattr(obj.auteur, "email", "")

    @admin.display(description="message")
    def extrait(self, obj):
        return obj.texte[:80] + ("…" if len(obj.texte) > 80 else "")

    @admin.display(description="fil")
    def fil(self, obj):
        return format_html('<a href="{}">Ouvrir le fil</a>', obj.staff_url())

    def get_urls(self):
        return [
            path(
                "dossier/<int:candidature_pk>/",
                self.admin_site.admin_view(self.dossier_view),
                name="candidatures_message_dossier",
            ),
            *super().get_urls(),
        ]

    def dossier_view(self, request, candidature_pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        candidature = get_object_or_404(
            Candidature.objects.select_related("appel", "collectivite"), pk=candidature_pk
        )
        can_write = request.user.has_perm("candidatures.add_message")
        # Prefixed: both forms have a « texte », and ids must stay unique on the page.
        form = MessageForm(appel=candidature.appel)
        demande_form = DemandeComplementForm(prefix="demande")
        if request.method == "POST":
            if not can_write:
                raise PermissionDenied
            if "demande" in request.POST:
                demande_form = DemandeComplementForm(request.POST, prefix="demande")
                if demande_form.is_valid() and self._ask(request, candidature, demande_form):
                    return redirect(
                        reverse("admin:candidatures_message_dossier", args=[candidature.pk])
                    )
            else:
                form = MessageForm(request.POST, request.FILES, appel=candidature.appel)
                if form.is_valid():
                    message = save_message(request, form, candidature=candidature)
                    if message is not None:
                        messages.success(request, "Message envoyé aux référent·es du dossier.")
                        return redirect(message.staff_url())
        mark_read(user=request.user, url=request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Messagerie du dossier — {candidature}",
            "opts": self.model._meta,
            "candidature": candidature,
            "fil": thread_messages(candidature),
            "form": form,
            "demande_form": demande_form,
            "can_write": can_write,
            "staff_side": True,
            "dossier_url": reverse("admin:candidatures_candidature_change", args=[candidature.pk])
            if candidature.est_deposee
            else reverse("admin:candidatures_brouillon_change", args=[candidature.pk]),
        }
        return TemplateResponse(
            request,
            "admin/candidatures/message/dossier.html",
            context,
            status=400 if request.method == "POST" else 200,
        )

    def _ask(self, request, candidature, form) -> bool:
        try:
            services.ask_complement(
                candidature=candidature,
                staff_user=request.user,
                texte=form.cleaned_data["texte"],
                echeance=form.cleaned_data["echeance"],
            )
        except ValidationError as error:
            field = "echeance" if error.code == "past" else None
            for text in error.messages:
                form.add_error(field, text)
            return False
        messages.success(request, "Demande de complément envoyée ; elle figure dans l'historique.")
        return True


class MessagerieCandidatureAdminMixin:
    """Adds « Messagerie » (a link to the dossier's thread) to a dossier's admin page; put it
    before the base ``ModelAdmin`` of Candidature."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        fieldset = ("Messagerie", {"fields": ["messagerie_detail"]})
        if fieldset not in cls.fieldsets:
            cls.fieldsets = [cls.fieldsets[0], fieldset, *cls.fieldsets[1:]]

    @admin.display(description="messagerie du dossier")
    def messagerie_detail(self, obj):
        count = Message.objects.filter(candidature=obj).count()
        url = reverse("admin:candidatures_message_dossier", args=[obj.pk])
        return format_html(
            '<a href="{}">Ouvrir la messagerie</a> ({} message{})',
            url,
            count,
            "s" if count > 1 else "",
        )
