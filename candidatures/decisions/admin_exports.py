"""Exports prepared by the worker, in the admin: each person's recent exports with their state,
an export's status page (« Actualiser », then « Télécharger ») and its download view.

Every lookup goes through ``Export.objects.readable_by``: someone else's export is a 404 (unless
« view_team_exports »), a juror's or anonymous request never reaches a file. The letters'
actions (``admin.py``) and the procès-verbal button (``ExportsAppelAdminMixin``) create exports
through ``exports.request_export`` above their synchronous limit.
"""

from django.conf import settings
from django.contrib import admin
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from cerdd_ami.admin import EMPTY, ReadOnlyAdminMixin
from cerdd_ami.files import private_file_response
from cerdd_ami.formats import format_datetime_fr

from . import exports
from .models import Export


def status_url(export: Export) -> str:
    return reverse("admin:candidatures_export_statut", args=[export.pk])


@admin.register(Export)
class ExportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """« Exports »: the requester's recent exports (everyone's with « view_team_exports »)."""

    list_display = ["document", "appel_titre", "etat", "demande_le", "demande_par", "telecharger"]
    list_display_links = ["document"]
    list_filter = ["statut", "kind"]
    list_select_related = ["appel", "requested_by"]
    actions = None

    def get_queryset(self, request):
        return Export.objects.readable_by(request.user)

    @admin.display(description="document", ordering="kind")
    def document(self, obj):
        return obj.get_kind_display()

    @admin.display(description="appel")
    def appel_titre(self, obj):
        return obj.appel.titre if obj.appel else EMPTY

    @admin.display(description="état")
    def etat(self, obj):
        return obj.etat_label

    @admin.display(description="demandé le", ordering="created_at")
    def demande_le(self, obj):
        return format_datetime_fr(obj.created_at)

    @admin.display(description="demandé par")
    def demande_par(self, obj):
        return obj.requested_by.email

    @admin.display(description="fichier")
    def telecharger(self, obj):
        if obj.statut != Export.Statut.PRET:
            return EMPTY
        url = reverse("admin:candidatures_export_telecharger", args=[obj.pk])
        return format_html('<a href="{}">Télécharger</a>', url)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/telecharger/",
                wrap(self.telecharger_view),
                name="candidatures_export_telecharger",
            ),
            path("<int:pk>/statut/", wrap(self.statut_view), name="candidatures_export_statut"),
            *super().get_urls(),
        ]

    def _export(self, request, pk) -> Export:
        return get_object_or_404(
            Export.objects.readable_by(request.user).select_related("appel", "requested_by"),
            pk=pk,
        )

    def statut_view(self, request, pk):
        export = self._export(request, pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": export.etat_label,
            "export": export,
            "etat": export.etat_label,
            "demande_le": format_datetime_fr(export.created_at),
            "termine_le": format_datetime_fr(export.finished_at) if export.finished_at else "",
        }
        return TemplateResponse(request, "admin/candidatures/export/statut.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not str(object_id).isdigit():
            return super().change_view(request, object_id, form_url, extra_context)
        return redirect(status_url(self._export(request, int(object_id))))

    def telecharger_view(self, request, pk):
        export = self._export(request, pk)
        if export.statut != Export.Statut.PRET:
            return redirect(status_url(export))
        return private_file_response(
            export.fichier, exports.download_filename(export), exports.content_type(export)
        )


class ExportsAppelAdminMixin:
    """The call's procès-verbal through the worker above ``PROCES_VERBAL_SYNC_DOSSIERS``
    submitted dossiers; put it before ``JuryAppelAdminMixin`` (it overrides its view)."""

    def proces_verbal(self, request, pk):
        appel = self._appel(request, pk)  # the jury dashboard's permission check
        if appel.candidatures.deposees().count() <= settings.PROCES_VERBAL_SYNC_DOSSIERS:
            return super().proces_verbal(request, pk)
        export = exports.request_export(
            kind=Export.Kind.PROCES_VERBAL, requested_by=request.user, appel=appel
        )
        return redirect(status_url(export))
