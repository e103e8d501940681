"""Participants in the admin: their binômes, the enrolment of retained collectivités on a
cycle, and the context note sent to every binôme member of a séance."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q

from candidatures.models import Decision, Issue
from cerdd_ami.admin import DeletesStoredFilesMixin, HistoryAdmin
from cycle.participants import context_notes, services
from cycle.participants.models import MembreBinome, Participant


class CycleEnrolmentAdminMixin:
    """On the cycle: enrol the collectivités retained by the published decisions."""

    def created_notes(self, request, cycle) -> list[str]:
        enrolled = services.enrol_retained(cycle=cycle, staff_user=request.user)
        return [
            *super().created_notes(request, cycle),
            f"{enrolled} collectivité(s) retenue(s) inscrite(s) au cycle",
        ]

    @admin.action(
        description="Inscrire les collectivités retenues (décisions publiées)",
        permissions=["change"],
    )
    def inscrire_retenues(self, request, queryset):
        enrolled = sum(
            services.enrol_retained(cycle=cycle, staff_user=request.user) for cycle in queryset
        )
        self.message_user(
            request,
            f"{enrolled} collectivité(s) inscrite(s) au cycle."
            if enrolled
            else "Toutes les collectivités retenues sont déjà inscrites.",
            messages.SUCCESS,
        )


class SeanceContextNoteAdminMixin:
    """On the séance: send its context note to every binôme member now."""

    @admin.action(description="Envoyer la note de contexte", permissions=["change"])
    def envoyer_note(self, request, queryset):
        for seance in queryset.order_by("cycle", "numero"):
            try:
                report = context_notes.deliver_context_note(seance=seance, staff_user=request.user)
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
                continue
            if report.sent:
                self.message_user(
                    request,
                    f"Séance {seance.numero} : note de contexte envoyée à {report.sent} "
                    f"personne{'s' if report.sent > 1 else ''}.",
                    messages.SUCCESS,
                )
            elif not report.failed:
                self.message_user(
                    request,
                    f"Séance {seance.numero} : la note a déjà été envoyée à tout le monde, "
                    "aucun nouvel envoi.",
                    messages.INFO,
                )
            for envoi in report.failures:
                self.message_user(
                    request,
                    f"Séance {seance.numero} : échec de l'envoi à {envoi.destinataire} "
                    f"({envoi.erreur}). Relancez l'action pour réessayer.",
                    messages.ERROR,
                )


# ---------------------------------------------------------------------------------------------
# Participants and their binômes


class MembreBinomeInline(admin.TabularInline):
    model = MembreBinome
    fields = ["role", "titulaire", "nom", "fonction", "email", "telephone"]
    extra = 0


class ParticipantAdminForm(forms.ModelForm):
    """Only a dossier retained by the cycle's call (published decision) takes part."""

    class Meta:
        model = Participant
        # The admin builds the form with its own fields; these are the ones checked here.
        fields = ["cycle", "candidature"]

    def clean(self):
        cleaned = super().clean()
        cycle, candidature = cleaned.get("cycle"), cleaned.get("candidature")
        changed = self.instance.pk is None or {"cycle", "candidature"} & set(self.changed_data)
        if cycle is None or candidature is None or not changed:
            return cleaned
        retained = Decision.objects.published().filter(
            candidature=candidature,
            candidature__appel_id=cycle.appel_id,
            issue=Issue.RETENUE,
            desistement_at__isnull=True,
        )
        if not retained.exists():
            self.add_error(
                "candidature",
                "Ce dossier n'a pas de décision « retenue » publiée (sans désistement) pour "
                f"l'appel du cycle « {cycle.appel} » : il ne peut pas participer au cycle.",
            )
        return cleaned


@admin.register(Participant)
class ParticipantAdmin(DeletesStoredFilesMixin, HistoryAdmin):
    """« Historique » lists each confirmation and change of the binôme, by whom and when.
    A participant deleted here (superusers only) takes the files of its questions au Cerdd
    and network messages with it."""

    form = ParticipantAdminForm
    list_display = ["collectivite", "cycle", "statut", "binome_complet"]
    list_filter = ["cycle", "statut"]
    list_select_related = ["cycle", "candidature__collectivite"]
    search_fields = ["candidature__collectivite__nom", "membres__nom", "membres__email"]
    # The status changes only through the services: the collectivité confirms its binôme or
    # withdraws (which records the withdrawal on the decision and frees the place).
    readonly_fields = ["statut", "confirme_at", "retire_at"]
    raw_id_fields = ["candidature"]
    inlines = [MembreBinomeInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                titulaires_elu=Count(
                    "membres", filter=Q(membres__titulaire=True, membres__role="elu")
                ),
                titulaires_tech=Count(
                    "membres", filter=Q(membres__titulaire=True, membres__role="technicien")
                ),
            )
        )

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="binôme complet ? (titulaires)", boolean=True)
    def binome_complet(self, obj):
        return bool(obj.titulaires_elu and obj.titulaires_tech)
