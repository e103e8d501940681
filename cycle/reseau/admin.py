"""Staff side of the participants' network: read the discussions, hide a message with a
reason (``<pk>/masquer/`` on a message: ``services.hide_message``, logged, its author told),
see the directory's consents. Nothing is added or edited here: the participants write, the
services change."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from cerdd_ami.admin import ReadOnlyAdminMixin
from cycle.reseau import services
from cycle.reseau.models import ConsentementAnnuaire, Discussion, MessageReseau

MODERATION_PERMISSIONS = ("cycle.view_messagereseau", "cycle.change_messagereseau")


class MasquerForm(forms.Form):
    motif = forms.CharField(
        label="Motif",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Envoyé par e-mail à l'auteur·rice du message ; les autres participant·es "
        "lisent « message masqué par l'équipe ».",
    )


def _masquer_link(message):
    if message.masque:
        return "—"
    return format_html(
        '<a class="button" href="{}">Masquer</a>',
        reverse("admin:cycle_messagereseau_masquer", args=[message.pk]),
    )


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = MessageReseau
    fields = ["created_at", "auteur_nom", "participant", "texte", "nom_original", "etat"]
    readonly_fields = fields
    extra = 0

    @admin.display(description="état")
    def etat(self, obj):
        if obj.masque:
            return f"Masqué : {obj.masque_motif}"
        return _masquer_link(obj)

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("participant__candidature__collectivite")
        )


@admin.register(Discussion)
class DiscussionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["titre", "cycle", "seance", "theme", "participant", "created_at", "messages_"]
    list_filter = ["cycle", "theme"]
    list_select_related = ["cycle", "seance", "participant__candidature__collectivite"]
    search_fields = ["titre", "messages__texte"]
    fields = ["cycle", "titre", "theme", "seance", "participant", "auteur_nom", "created_at"]
    readonly_fields = fields
    inlines = [MessageInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_messages=Count("messages"))

    @admin.display(description="messages", ordering="_messages")
    def messages_(self, obj):
        return obj._messages


@admin.register(MessageReseau)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["discussion", "auteur_nom", "participant", "created_at", "extrait", "etat"]
    list_filter = ["discussion__cycle", ("masque_at", admin.EmptyFieldListFilter)]
    list_select_related = ["discussion", "participant__candidature__collectivite"]
    search_fields = ["texte", "auteur_nom", "discussion__titre"]
    fields = [
        "discussion",
        "auteur_nom",
        "participant",
        "created_at",
        "texte",
        "nom_original",
        "taille",
        "masque_at",
        "masque_par",
        "masque_motif",
        "masquer",
    ]
    readonly_fields = fields

    @admin.display(description="message")
    def extrait(self, obj):
        return obj.texte if len(obj.texte) <= 90 else obj.texte[:89] + "…"

    @admin.display(description="état")
    def etat(self, obj):
        return f"Masqué le {obj.masque_at:%d/%m/%Y}" if obj.masque else _masquer_link(obj)

    @admin.display(description="modération")
    def masquer(self, obj):
        return _masquer_link(obj)

    def get_urls(self):
        return [
            path(
                "<int:pk>/masquer/",
                self.admin_site.admin_view(self.masquer_view),
                name="cycle_messagereseau_masquer",
            ),
            *super().get_urls(),
        ]

    def masquer_view(self, request, pk):
        if not request.user.has_perms(MODERATION_PERMISSIONS):
            raise PermissionDenied
        message = get_object_or_404(
            MessageReseau.objects.select_related(
                "discussion", "participant__candidature__collectivite"
            ),
            pk=pk,
        )
        form = MasquerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.hide_message(
                    message=message, staff_user=request.user, motif=form.cleaned_data["motif"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    "Le message est masqué ; son auteur·rice reçoit le motif par e-mail.",
                    messages.SUCCESS,
                )
                return redirect("admin:cycle_discussion_change", message.discussion_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Masquer un message de {message.auteur_nom}",
            "message": message,
            "form": form,
        }
        return TemplateResponse(request, "admin/cycle/messagereseau/masquer.html", context)


@admin.register(ConsentementAnnuaire)
class ConsentementAnnuaireAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["membre", "participant", "consenti_at", "revoque_at"]
    list_filter = ["membre__participant__cycle", ("revoque_at", admin.EmptyFieldListFilter)]
    list_select_related = ["membre__participant__candidature__collectivite"]
    fields = ["membre", "user", "consenti_at", "revoque_at"]
    readonly_fields = fields

    @admin.display(description="collectivité")
    def participant(self, obj):
        return str(obj.membre.participant)
