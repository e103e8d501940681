"""Staff side of the needs survey: the answers, read-only, and one results page per cycle
(Borda chart and table, free texts by collectivité, who has not answered, « Relancer »).

Answers are the participants' words: staff read them here and never edit them.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from cerdd_ami.admin import ReadOnlyAdminMixin
from cycle.seances.models import Cycle
from cycle.sondage import services
from cycle.sondage.models import ChoixTheme, ReponseSondage


class ChoixThemeInline(admin.TabularInline):
    model = ChoixTheme
    fields = ["rang", "theme"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ReponseSondage)
class ReponseSondageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["participant", "cycle", "submitted_at", "submitted_by", "resultats"]
    list_filter = ["participant__cycle"]
    list_select_related = [
        "participant__cycle",
        "participant__candidature__collectivite",
        "submitted_by",
    ]
    search_fields = ["participant__candidature__collectivite__nom", "suggestions", "attentes"]
    fields = ["participant", "suggestions", "attentes", "submitted_at", "submitted_by"]
    readonly_fields = fields
    inlines = [ChoixThemeInline]
    ordering = ["participant__cycle", "participant__candidature__collectivite__nom"]

    @admin.display(description="cycle", ordering="participant__cycle")
    def cycle(self, obj):
        return obj.participant.cycle

    @admin.display(description="résultats")
    def resultats(self, obj):
        url = reverse("admin:cycle_reponsesondage_resultats", args=[obj.participant.cycle_id])
        return format_html('<a href="{}">Résultats du cycle</a>', url)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "cycles": Cycle.objects.order_by("-pk")}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        return [
            path(
                "resultats/<int:cycle_pk>/",
                self.admin_site.admin_view(self.resultats_view),
                name="cycle_reponsesondage_resultats",
            ),
            *super().get_urls(),
        ]

    def resultats_view(self, request, cycle_pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        cycle = get_object_or_404(Cycle.objects.select_related("appel"), pk=cycle_pk)
        if request.method == "POST":
            if request.POST.get("action") != "relancer":
                raise PermissionDenied
            count = services.remind_survey(cycle=cycle, staff_user=request.user)
            if count:
                messages.success(
                    request,
                    f"Relance envoyée à {count} collectivité{'s' if count > 1 else ''} "
                    "sans réponse.",
                )
            else:
                messages.info(request, "Toutes les collectivités ont répondu : aucune relance.")
            return redirect(request.path)
        rows = services.survey_results(cycle)
        answers = list(services.answers(cycle))
        pending = list(services.non_respondents(cycle))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Sondage des besoins — {cycle}",
            "cycle": cycle,
            "rows": rows,
            "answers": answers,
            "free_texts": [a for a in answers if a.suggestions or a.attentes],
            "pending": pending,
            "chart": services.results_svg(rows, len(answers), "sondage-borda"),
            "max_rank": services.MAX_RANK,
        }
        return TemplateResponse(request, "admin/cycle/reponsesondage/resultats.html", context)
