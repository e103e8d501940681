"""Staff side of the cycle in the admin: séances, participants and binômes, attendance.

Custom pages (added through ``get_urls`` and ``admin_site.admin_view``):
- séance: ``<pk>/emargement.pdf`` (sign-in sheet), ``<pk>/presences/`` (record everyone's
  attendance in one form, through ``services_staff.record_attendance``);
- cycle: ``<pk>/grille/`` (grid collectivités × séances, alerts, certificates),
  ``<pk>/presences.xlsx``, ``<pk>/attestations/<membre_pk>.pdf``.
Reading needs the view permissions on the models shown; recording attendance needs
add_presence and change_presence (the « Chargé·e de mission » group has them).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import slugify

from candidatures.models import Decision, Issue
from cerdd_ami import files
from cerdd_ami.admin import HistoryAdmin, ReadOnlyAdminMixin
from cerdd_ami.files import private_file_response
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from cerdd_ami.pdf import pdf_response
from cerdd_ami.spreadsheets import to_xlsx_response

from . import attendance, services, services_staff
from .models import (
    Cycle,
    DocumentSeance,
    EnvoiNoteContexte,
    MembreBinome,
    Participant,
    Presence,
    Seance,
)

VIEW_ATTENDANCE = ("cycle.view_cycle", "cycle.view_seance", "cycle.view_presence")
RECORD_ATTENDANCE = ("cycle.add_presence", "cycle.change_presence")


def _require(request, permissions):
    if not request.user.has_perms(permissions):
        raise PermissionDenied


# ---------------------------------------------------------------------------------------------
# Cycle


class SeanceInline(admin.TabularInline):
    model = Seance
    fields = ["numero", "date", "lieu", "etat"]
    extra = 0
    show_change_link = True


class CycleAdminForm(forms.ModelForm):
    """Adding a cycle: the call is enough; the title defaults to the call's and the seven
    séances come from the call (``services.ensure_cycle``), never typed by hand."""

    class Meta:
        model = Cycle
        fields = ["appel", "titre", "seances_min_attestation", "jours_avant_note"]
        help_texts = {"titre": "Vide : « Cycle de qualification — » suivi du titre de l'appel."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "titre" in self.fields:
            self.fields["titre"].required = False

    def clean(self):
        cleaned = super().clean()
        appel = cleaned.get("appel")
        if appel is not None and self.instance.pk is None:
            if appel.first_session_date is None:
                self.add_error(
                    "appel",
                    "Indiquez d'abord la date de la première journée du cycle dans l'appel : "
                    "les séances sont créées à partir d'elle.",
                )
            if not cleaned.get("titre"):
                cleaned["titre"] = f"Cycle de qualification — {appel.titre}"[:250]
        elif "titre" in cleaned and not cleaned["titre"]:
            self.add_error("titre", "Indiquez le titre du cycle.")
        return cleaned


@admin.register(Cycle)
class CycleAdmin(admin.ModelAdmin):
    form = CycleAdminForm
    list_display = ["titre", "appel", "seances_min_attestation", "jours_avant_note", "grille"]
    list_select_related = ["appel"]
    inlines = [SeanceInline]
    actions = ["creer_seances", "inscrire_retenues"]

    def get_inlines(self, request, obj):
        # On the add form the séances come from the call: nothing to type.
        return self.inlines if obj is not None and obj.pk else []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            return
        before = obj.seances.count()
        services.ensure_cycle(obj.appel)
        created = obj.seances.count() - before
        enrolled = services.enrol_retained(cycle=obj, staff_user=request.user)
        self.message_user(
            request,
            f"{created} séance{'s' if created > 1 else ''} créée{'s' if created > 1 else ''} "
            f"depuis l'appel ; {enrolled} collectivité(s) retenue(s) inscrite(s) au cycle.",
            messages.SUCCESS,
        )

    @admin.action(description="Créer les séances depuis l'appel", permissions=["change"])
    def creer_seances(self, request, queryset):
        for cycle in queryset.select_related("appel"):
            before = cycle.seances.count()
            try:
                services.ensure_cycle(cycle.appel)
            except ValidationError as error:
                self.message_user(request, f"{cycle} : {' '.join(error.messages)}", messages.ERROR)
                continue
            created = cycle.seances.count() - before
            self.message_user(
                request,
                f"{cycle} : {created} séance(s) créée(s) depuis l'appel."
                if created
                else f"{cycle} : les {services.SEANCES_PAR_CYCLE} séances existent déjà, "
                "rien n'a été modifié.",
                messages.SUCCESS if created else messages.INFO,
            )

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
                wrap(self.presences_xlsx),
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
        _require(request, VIEW_ATTENDANCE)
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
            "cycle_termine": services.cycle_is_over(cycle),
        }
        return TemplateResponse(request, "admin/cycle/cycle/grille.html", context)

    def presences_xlsx(self, request, pk):
        cycle = self._cycle(request, pk)
        headers, rows = attendance.attendance_table(attendance.cycle_attendance(cycle))
        stamp = timezone.localtime().strftime("%Y-%m-%d-%Hh%M")
        return to_xlsx_response(
            headers, rows, f"presences-{slugify(cycle.titre)[:40]}-{stamp}.xlsx", "Présences"
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


# ---------------------------------------------------------------------------------------------
# Séances


# The context note and the séance's documents: files staff send to every participant.
SEANCE_FILE_MAX_BYTES = 10 * 1024 * 1024


class SeanceAdminForm(forms.ModelForm):
    class Meta:
        model = Seance
        # The admin builds the form with its fieldsets' fields; these are the ones checked here.
        fields = ["note_contexte_fichier"]

    def clean_note_contexte_fichier(self):
        # The note goes out to every participant: same checks as an applicant's document
        # (type read from the content, size, antivirus when configured).
        uploaded = self.cleaned_data.get("note_contexte_fichier")
        if isinstance(uploaded, UploadedFile):
            files.validate_upload(
                uploaded,
                images_allowed=False,
                max_bytes=SEANCE_FILE_MAX_BYTES,
                room_bytes=SEANCE_FILE_MAX_BYTES,
            )
        return uploaded


DOCUMENT_PERMISSIONS = ("cycle.view_seance", "cycle.view_documentseance")


class DocumentFileInput(forms.ClearableFileInput):
    """The stored file links to the admin's download view (media files are never served as
    such) and is named by its original name, not by its unguessable stored one."""

    template_name = "cycle/widgets/document_file_input.html"

    def __init__(self, *args, download_url="", download_name="", **kwargs):
        super().__init__(*args, **kwargs)
        self.download_url, self.download_name = download_url, download_name

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["download_url"] = self.download_url
        context["widget"]["download_name"] = self.download_name
        return context


class DocumentSeanceForm(forms.ModelForm):
    class Meta:
        model = DocumentSeance
        fields = ["titre", "fichier"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and "fichier" in self.fields:
            self.fields["fichier"].widget = DocumentFileInput(
                download_url=self.instance.get_admin_url(),
                download_name=self.instance.nom_original,
            )

    def clean_fichier(self):
        # Shared with every participant: the checks of an applicant's supporting documents
        # (type read from the content, images allowed, size, antivirus when configured).
        uploaded = self.cleaned_data.get("fichier")
        if isinstance(uploaded, UploadedFile):
            mime = files.validate_upload(
                uploaded,
                images_allowed=True,
                max_bytes=SEANCE_FILE_MAX_BYTES,
                room_bytes=SEANCE_FILE_MAX_BYTES,
            )
            self.instance.type_mime = mime
            self.instance.taille = uploaded.size
            self.instance.nom_original = files.original_name(uploaded.name)
        return uploaded


class DocumentSeanceInline(admin.TabularInline):
    model = DocumentSeance
    form = DocumentSeanceForm
    fields = ["titre", "fichier", "taille_lisible", "added_at", "added_by"]
    readonly_fields = ["taille_lisible", "added_at", "added_by"]
    extra = 1

    @admin.display(description="taille")
    def taille_lisible(self, obj):
        return filesizeformat(obj.taille) if obj.pk else "—"


@admin.register(Seance)
class SeanceAdmin(admin.ModelAdmin):
    form = SeanceAdminForm
    inlines = [DocumentSeanceInline]
    list_display = ["__str__", "cycle", "lieu", "etat", "note_envoyee", "liens"]
    list_filter = ["cycle", "etat"]
    list_select_related = ["cycle"]
    autocomplete_fields = ["collectivite_hote"]
    readonly_fields = ["note_envoyee_at"]
    actions = ["envoyer_note"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "cycle",
                    "numero",
                    "date",
                    ("heure_debut", "heure_fin"),
                    "lieu",
                    "adresse",
                    "collectivite_hote",
                ]
            },
        ),
        (
            "Thèmes et programme",
            {"fields": ["themes", "programme_matin", "programme_dejeuner", "programme_apres_midi"]},
        ),
        (
            "Note de contexte",
            {
                "description": (
                    "Envoyée par e-mail à chaque titulaire et suppléant·e des collectivités "
                    "participantes, automatiquement quelques jours avant la séance (délai fixé "
                    "sur le cycle) ou par l'action « Envoyer la note de contexte »."
                ),
                "fields": ["note_contexte", "note_contexte_fichier", "note_envoyee_at"],
            },
        ),
        ("État", {"fields": ["etat"]}),
    ]

    @admin.display(description="note envoyée le", ordering="note_envoyee_at")
    def note_envoyee(self, obj):
        return format_datetime_fr(obj.note_envoyee_at) if obj.note_envoyee_at else "—"

    @admin.display(description="présences")
    def liens(self, obj):
        return format_html(
            '<a href="{}">Saisir les présences</a> · <a href="{}">Feuille d\'émargement</a>',
            reverse("admin:cycle_seance_presences", args=[obj.pk]),
            reverse("admin:cycle_seance_emargement", args=[obj.pk]),
        )

    @admin.action(description="Envoyer la note de contexte", permissions=["change"])
    def envoyer_note(self, request, queryset):
        for seance in queryset.order_by("cycle", "numero"):
            try:
                report = services_staff.deliver_context_note(seance=seance, staff_user=request.user)
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

    def save_formset(self, request, form, formset, change):
        if formset.model is not DocumentSeance:
            return super().save_formset(request, form, formset, change)
        replaced = [
            (f.instance, f.initial.get("fichier"))
            for f in formset.forms
            if f.instance.pk and "fichier" in f.changed_data and f not in formset.deleted_forms
        ]
        documents = formset.save(commit=False)
        for document in documents:
            if document.pk is None:
                document.added_by = request.user
            document.save()
        for document in formset.deleted_objects:
            files.delete_on_commit(document.fichier)
            document.delete()
        for _document, old_file in replaced:
            if old_file:
                files.delete_on_commit(old_file)
        formset.save_m2m()

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/documents/<int:document_pk>/",
                wrap(self.document_view),
                name="cycle_seance_document",
            ),
            path(
                "<int:pk>/emargement.pdf",
                wrap(self.emargement_pdf),
                name="cycle_seance_emargement",
            ),
            path("<int:pk>/presences/", wrap(self.presences_view), name="cycle_seance_presences"),
            *super().get_urls(),
        ]

    def _seance(self, request, pk) -> Seance:
        _require(request, VIEW_ATTENDANCE)
        return get_object_or_404(Seance.objects.select_related("cycle", "collectivite_hote"), pk=pk)

    def document_view(self, request, pk, document_pk):
        _require(request, DOCUMENT_PERMISSIONS)
        document = get_object_or_404(DocumentSeance, seance_id=pk, pk=document_pk)
        return private_file_response(document.fichier, document.nom_original, document.type_mime)

    def emargement_pdf(self, request, pk):
        seance = self._seance(request, pk)
        pdf = attendance.render_emargement_pdf(seance)
        return pdf_response(pdf, f"emargement-seance-{seance.numero}.pdf", inline=True)

    def presences_view(self, request, pk):
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
                services_staff.record_attendance(
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
class ParticipantAdmin(HistoryAdmin):
    """« Historique » lists each confirmation and change of the binôme, by whom and when."""

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


@admin.register(EnvoiNoteContexte)
class EnvoiNoteContexteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["seance", "destinataire", "statut", "tentatives", "envoye_at", "erreur"]
    list_filter = ["statut", "seance__cycle", "seance"]
    list_select_related = ["seance"]
    search_fields = ["destinataire"]


# The survey's and the journal's admins live in their own modules; admin autodiscovery
# imports only this one.
from . import admin_journal, admin_sondage  # noqa: E402, F401
