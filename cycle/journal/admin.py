"""Staff side of the journal de bord: shared entries (read-only, with the team's replies),
commitments to experiment, and the exports of the capitalisation.

Staff never read private or binôme entries: the entries' queryset is
``EntreeJournal.objects.readable_by(request.user)``, and a direct URL to any other entry is a
404 (not the admin's usual « does not exist » redirect, which would still be an answer).

Custom pages on the entries' admin: ``<pk>/repondre/`` (add a reply),
``capitalisation/<cycle_pk>.pdf`` and ``entrees/<cycle_pk>.xlsx``.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import slugify

from cerdd_ami.admin import ReadOnlyAdminMixin
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from cerdd_ami.pdf import pdf_response
from cerdd_ami.spreadsheets import export_filename, to_xlsx_response
from cycle.journal import capitalisation
from cycle.journal.models import AvancementEngagement, Engagement, EntreeJournal
from cycle.seances.models import Cycle

REPLY_PERMISSIONS = ("cycle.view_entreejournal", "cycle.add_reponsefacilitateur")


class ReponseForm(forms.Form):
    texte = forms.CharField(
        label="Votre réponse",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text="Quelques lignes, lues par toutes les collectivités du cycle.",
    )


@admin.register(EntreeJournal)
class EntreeJournalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["collectivite", "seance", "auteur", "created_at", "nombre_reponses"]
    list_filter = [
        "participant__cycle",
        ("seance", admin.RelatedOnlyFieldListFilter),
        ("participant", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["participant__candidature__collectivite", "seance", "auteur"]
    search_fields = [
        "participant__candidature__collectivite__nom",
        "points_forts",
        "points_vigilance",
        "idees",
        "marges_progression",
    ]
    fieldsets = [
        (
            None,
            {
                "description": "L'équipe du Cerdd ne lit que les entrées partagées avec le cycle.",
                "fields": ["participant", "seance", "auteur", "created_at"],
            },
        ),
        (
            "Le journal",
            {"fields": ["points_forts", "points_vigilance", "idees", "marges_progression"]},
        ),
        ("Réponses de l'équipe", {"fields": ["reponses_equipe"]}),
    ]
    readonly_fields = [
        "participant",
        "seance",
        "auteur",
        "created_at",
        "points_forts",
        "points_vigilance",
        "idees",
        "marges_progression",
        "reponses_equipe",
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=EntreeJournal.objects.readable_by(request.user).values("pk"))
            # One COUNT per list, not one per row (``nombre_reponses``).
            .annotate(_nombre_reponses=Count("reponses"))
        )

    def _get_obj_does_not_exist_redirect(self, request, opts, object_id):
        # A private entry must not be distinguishable from a missing one, and must not be
        # answered with a redirect and a message either.
        raise Http404

    @admin.display(
        description="collectivité", ordering="participant__candidature__collectivite__nom"
    )
    def collectivite(self, obj):
        return str(obj.participant)

    @admin.display(description="réponses", ordering="_nombre_reponses")
    def nombre_reponses(self, obj):
        return obj._nombre_reponses

    @admin.display(description="réponses")
    def reponses_equipe(self, obj):
        items = format_html_join(
            "",
            "<li>{} — {} : {}</li>",
            (
                (format_datetime_fr(r.created_at), r.auteur or "—", r.texte)
                for r in obj.reponses.select_related("auteur")
            ),
        )
        link = format_html(
            '<a class="button" href="{}">Répondre</a>',
            reverse("admin:cycle_entreejournal_repondre", args=[obj.pk]),
        )
        return format_html("<ul>{}</ul>{}", items, link) if items else link

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "title": "Entrées partagées du journal de bord",
            "subtitle": "L'équipe du Cerdd ne lit que les entrées partagées avec le cycle.",
            "cycles": Cycle.objects.order_by("-pk"),
        }
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/repondre/", wrap(self.repondre_view), name="cycle_entreejournal_repondre"
            ),
            path(
                "capitalisation/<int:cycle_pk>.pdf",
                wrap(self.capitalisation_pdf),
                name="cycle_entreejournal_capitalisation",
            ),
            path(
                "entrees/<int:cycle_pk>.xlsx",
                wrap(self.entrees_xlsx),
                name="cycle_entreejournal_xlsx",
            ),
            *super().get_urls(),
        ]

    def repondre_view(self, request, pk):
        if not request.user.has_perms(REPLY_PERMISSIONS):
            raise PermissionDenied
        entree = get_object_or_404(self.get_queryset(request), pk=pk)
        form = ReponseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                capitalisation.reply(
                    entree=entree, staff_user=request.user, texte=form.cleaned_data["texte"]
                )
            except ValidationError as error:
                form.add_error("texte", error.messages)
            else:
                self.message_user(request, "Votre réponse est enregistrée.", messages.SUCCESS)
                return redirect("admin:cycle_entreejournal_change", entree.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Répondre à l'entrée de {entree.participant}",
            "entree": entree,
            "prompts": [
                (label, getattr(entree, name))
                for name, label in capitalisation.PROMPTS
                if getattr(entree, name)
            ],
            "ecrite_le": format_date_fr(entree.created_at),
            "reponses": entree.reponses.select_related("auteur"),
            "form": form,
        }
        return TemplateResponse(request, "admin/cycle/entreejournal/repondre.html", context)

    def _cycle(self, request, cycle_pk) -> Cycle:
        if not (
            self.has_view_permission(request)
            and request.user.has_perms(["cycle.view_engagement", "cycle.view_presence"])
        ):
            raise PermissionDenied
        return get_object_or_404(Cycle.objects.select_related("appel"), pk=cycle_pk)

    def capitalisation_pdf(self, request, cycle_pk):
        cycle = self._cycle(request, cycle_pk)
        pdf = capitalisation.render_capitalisation_pdf(cycle)
        return pdf_response(pdf, f"capitalisation-{slugify(cycle.titre)[:40]}.pdf", inline=True)

    def entrees_xlsx(self, request, cycle_pk):
        cycle = self._cycle(request, cycle_pk)
        headers, rows = capitalisation.entries_table(cycle)
        return to_xlsx_response(
            headers,
            rows,
            export_filename("journal", cycle.appel.slug, extension="xlsx"),
            "Entrées partagées",
        )


class AvancementInline(admin.TabularInline):
    model = AvancementEngagement
    fields = ["date", "statut", "texte", "auteur"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Engagement)
class EngagementAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["collectivite", "nature", "description_courte", "statut", "dernier_avancement"]
    list_filter = ["participant__cycle", "nature", "statut"]
    search_fields = ["participant__candidature__collectivite__nom", "description"]
    # Every commitment of a cycle on one page: a few dozen collectivités, a few each.
    list_per_page = 500
    fields = ["participant", "nature", "description", "statut", "created_at", "created_by"]
    readonly_fields = fields
    inlines = [AvancementInline]

    def get_queryset(self, request):
        return capitalisation.engagements_of(super().get_queryset(request))

    @admin.display(
        description="collectivité", ordering="participant__candidature__collectivite__nom"
    )
    def collectivite(self, obj):
        return str(obj.participant)

    @admin.display(description="description")
    def description_courte(self, obj):
        return obj.description if len(obj.description) <= 90 else obj.description[:89] + "…"

    @admin.display(description="dernier avancement", ordering="dernier_avancement")
    def dernier_avancement(self, obj):
        return format_date_fr(obj.dernier_avancement) if obj.dernier_avancement else "—"
