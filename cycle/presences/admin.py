"""Attendance in the admin.

Custom pages (added through ``get_urls`` and ``admin_site.admin_view``):
- séance: ``<pk>/emargement.pdf`` (sign-in sheet), ``<pk>/presences/`` (record everyone's
  attendance in one form, through ``presences.services.record_attendance``);
- cycle: ``<pk>/grille/`` (grid collectivités × séances, alerts, certificates),
  ``<pk>/presences.xlsx``, ``<pk>/attestations/<membre_pk>.pdf``.
Reading needs the view permissions on the models shown; recording attendance needs
add_presence and change_presence (the « Chargé·e de mission » group has them).
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import slugify

from cerdd_ami.admin import ReadOnlyAdminMixin
from cerdd_ami.formats import format_date_fr
from cerdd_ami.pdf import pdf_response
from cerdd_ami.spreadsheets import export_filename, to_xlsx_response
from cycle.participants.models import MembreBinome
from cycle.presences import attendance, services
from cycle.presences.models import Presence
from cycle.seances.admin import require_permissions
from cycle.seances.models import Cycle, Seance
from cycle.seances.services import cycle_is_over

VIEW_ATTENDANCE = ("cycle.view_cycle", "cycle.view_seance", "cycle.view_presence")
RECORD_ATTENDANCE = ("cycle.add_presence", "cycle.change_presence")


class CycleAttendanceAdminMixin:
    """On the cycle: the attendance grid, its spreadsheet and the attestations."""

    @admin.display(description="présences")
    def grille(self, obj):
        return format_html(
            '<a href="{}">Grille des présences</a>',
            reverse("admin:cycle_cycle_grille", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/grille/", wrap(self.grille_view), name="cycle_cycle_grille"),
            path(
                "<int:pk>/presences.xlsx",
                wrap(self.attendance_xlsx),
                name="cycle_cycle_presences_xlsx",
            ),
            path(
                "<int:pk>/attestations/<int:membre_pk>.pdf",
                wrap(self.attestation_pdf),
                name="cycle_cycle_attestation",
            ),
            *super().get_urls(),
        ]

    def _cycle(self, request, pk) -> Cycle:
        require_permissions(request, VIEW_ATTENDANCE)
        return get_object_or_404(Cycle.objects.select_related("appel"), pk=pk)

    def grille_view(self, request, pk):
        cycle = self._cycle(request, pk)
        data = attendance.cycle_attendance(cycle)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Grille des présences — {cycle.titre}",
            "cycle": cycle,
            "data": data,
            "svg": attendance.grid_svg(data),
            "state_labels": attendance.STATE_LABELS,
            "cycle_termine": cycle_is_over(cycle),
        }
        return TemplateResponse(request, "admin/cycle/cycle/grille.html", context)

    def attendance_xlsx(self, request, pk):
        cycle = self._cycle(request, pk)
        headers, rows = attendance.attendance_table(attendance.cycle_attendance(cycle))
        return to_xlsx_response(
            headers,
            rows,
            export_filename("presences", cycle.appel.slug, extension="xlsx"),
            "Présences",
        )

    def attestation_pdf(self, request, pk, membre_pk):
        cycle = self._cycle(request, pk)
        membre = get_object_or_404(
            MembreBinome.objects.select_related("participant__candidature__collectivite"),
            pk=membre_pk,
            participant__cycle=cycle,
        )
        attended = len(attendance.attended_seances(membre))
        blocker = attendance.attestation_blocker(membre, cycle, attended=attended)
        refus = ""
        if blocker == attendance.CYCLE_NOT_OVER:
            refus = (
                f"Pas d'attestation pour {membre.nom} avant la fin du cycle : l'attestation "
                "est délivrée une fois la dernière séance tenue."
            )
        elif blocker == attendance.NOT_ENOUGH:
            refus = (
                f"Pas d'attestation pour {membre.nom} : {attendance.seances_suivies(attended)}, "
                f"il en faut au moins {cycle.seances_min_attestation}."
            )
        if refus:
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Attestation non disponible",
                "cycle": cycle,
                "membre": membre,
                "refus": refus,
            }
            return TemplateResponse(
                request, "admin/cycle/cycle/attestation_refusee.html", context, status=404
            )
        pdf = attendance.render_attestation_pdf(membre, cycle)
        return pdf_response(pdf, f"attestation-{slugify(membre.nom)}.pdf", inline=True)


class SeanceAttendanceAdminMixin:
    """On the séance: the sign-in sheet and the attendance form."""

    @admin.display(description="présences")
    def liens(self, obj):
        return format_html(
            '<a href="{}">Saisir les présences</a> · <a href="{}">Feuille d\'émargement</a>',
            reverse("admin:cycle_seance_presences", args=[obj.pk]),
            reverse("admin:cycle_seance_emargement", args=[obj.pk]),
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/emargement.pdf",
                wrap(self.emargement_pdf),
                name="cycle_seance_emargement",
            ),
            path("<int:pk>/presences/", wrap(self.attendance_view), name="cycle_seance_presences"),
            *super().get_urls(),
        ]

    def _seance(self, request, pk) -> Seance:
        require_permissions(request, VIEW_ATTENDANCE)
        return get_object_or_404(Seance.objects.select_related("cycle", "collectivite_hote"), pk=pk)

    def emargement_pdf(self, request, pk):
        seance = self._seance(request, pk)
        pdf = attendance.render_emargement_pdf(seance)
        return pdf_response(pdf, f"emargement-seance-{seance.numero}.pdf", inline=True)

    def attendance_view(self, request, pk):
        seance = self._seance(request, pk)
        can_record = request.user.has_perms(RECORD_ATTENDANCE)
        participants = list(attendance.active_participants(seance.cycle_id))
        recorded = {p.membre_id: p for p in Presence.objects.filter(seance=seance)}
        errors: dict[str, str] = {}
        submitted: dict[int, tuple[str, str]] = {}
        if request.method == "POST":
            if not can_record:
                raise PermissionDenied
            statuses = {}
            for participant in participants:
                for membre in participant.membres.all():
                    statut = request.POST.get(f"statut-{membre.pk}", "")
                    remplacant = request.POST.get(f"remplacant-{membre.pk}", "")
                    submitted[membre.pk] = (statut, remplacant)
                    statuses[membre.pk] = (statut, remplacant or None)
            try:
                services.record_attendance(
                    seance=seance, statuses=statuses, staff_user=request.user
                )
            except ValidationError as error:
                errors = {key: " ".join(value) for key, value in error.message_dict.items()}
                self.message_user(
                    request,
                    "Les présences n'ont pas été enregistrées : corrigez les lignes signalées.",
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request, "Les présences de la séance sont enregistrées.", messages.SUCCESS
                )
                return redirect("admin:cycle_seance_presences", seance.pk)

        groups = []
        for participant in participants:
            suppleants = [m for m in participant.membres.all() if not m.titulaire]
            lines = []
            for membre in participant.membres.all():
                if membre.pk in submitted:
                    statut, remplacant = submitted[membre.pk]
                else:
                    presence = recorded.get(membre.pk)
                    statut = presence.statut if presence else ""
                    remplacant = str(presence.remplacant_id or "") if presence else ""
                lines.append(
                    {
                        "membre": membre,
                        "label": attendance.membre_label(membre),
                        "statut": statut,
                        "remplacant": remplacant,
                        "suppleants": [s for s in suppleants if s.pk != membre.pk],
                        "error": errors.get(str(membre.pk), ""),
                    }
                )
            groups.append({"participant": participant, "lines": lines})
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Présences — séance {seance.numero} du {format_date_fr(seance.date)}",
            "seance": seance,
            "groups": groups,
            "statuts": Presence.Statut.choices,
            "can_record": can_record,
            "alerts": attendance.seance_alerts(seance),
        }
        return TemplateResponse(request, "admin/cycle/seance/presences.html", context)


# ---------------------------------------------------------------------------------------------
# Read-only logs


@admin.register(Presence)
class PresenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["seance", "collectivite", "membre", "statut", "remplacant", "recorded_at"]
    list_filter = ["seance__cycle", "seance", "statut"]
    list_select_related = [
        "seance",
        "membre__participant__candidature__collectivite",
        "remplacant",
    ]
    search_fields = ["membre__nom", "membre__participant__candidature__collectivite__nom"]

    @admin.display(description="collectivité")
    def collectivite(self, obj):
        return obj.membre.participant.candidature.collectivite.nom
