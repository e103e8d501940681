"""Séances in the admin: the cycle and its séances, their documents and context notes.

The classes here are bases: ``cycle/admin.py`` composes them with the mixins of
``participants`` and ``presences`` and registers the result once.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.urls import path

from cerdd_ami import files
from cerdd_ami.admin import ReadOnlyAdminMixin
from cerdd_ami.files import private_file_response
from cerdd_ami.formats import format_datetime_fr
from cycle.seances import services
from cycle.seances.models import Cycle, DocumentSeance, EnvoiNoteContexte, Seance


def require_permissions(request, permissions):
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


class CycleAdminBase(admin.ModelAdmin):
    form = CycleAdminForm
    list_display = ["titre", "appel", "seances_min_attestation", "jours_avant_note"]
    list_select_related = ["appel"]
    inlines = [SeanceInline]
    actions = ["creer_seances"]

    def get_inlines(self, request, obj):
        # On the add form the séances come from the call: nothing to type.
        return self.inlines if obj is not None and obj.pk else []

    def created_notes(self, request, cycle) -> list[str]:
        """What other sub-domains did for a new cycle, one phrase each, for the message."""
        return []

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            return
        before = obj.seances.count()
        services.ensure_cycle(obj.appel)
        created = obj.seances.count() - before
        notes = [
            f"{created} séance{'s' if created > 1 else ''} créée{'s' if created > 1 else ''} "
            "depuis l'appel",
            *self.created_notes(request, obj),
        ]
        self.message_user(request, " ; ".join(notes) + ".", messages.SUCCESS)

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


class SeanceAdminBase(admin.ModelAdmin):
    form = SeanceAdminForm
    inlines = [DocumentSeanceInline]
    list_display = ["__str__", "cycle", "lieu", "etat", "note_envoyee"]
    list_filter = ["cycle", "etat"]
    list_select_related = ["cycle"]
    autocomplete_fields = ["collectivite_hote"]
    readonly_fields = ["note_envoyee_at"]
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
            *super().get_urls(),
        ]

    def document_view(self, request, pk, document_pk):
        require_permissions(request, DOCUMENT_PERMISSIONS)
        document = get_object_or_404(DocumentSeance, seance_id=pk, pk=document_pk)
        return private_file_response(document.fichier, document.nom_original, document.type_mime)


@admin.register(EnvoiNoteContexte)
class EnvoiNoteContexteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["seance", "destinataire", "statut", "tentatives", "envoye_at", "erreur"]
    list_filter = ["statut", "seance__cycle", "seance"]
    list_select_related = ["seance"]
    search_fields = ["destinataire"]
