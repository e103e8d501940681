"""Staff admin of the dossiers: submitted dossiers and drafts (listed apart), the read-only
dossier page with its pieces, submissions, log and accesses, extensions and exports. The
helpers here (person, paris, the application form's fieldsets) serve the jury's pages too.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    CharField,
    Count,
    OuterRef,
    Q,
    StringAgg,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Concat
from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from candidatures.appels.admin import DepartementFilter
from candidatures.appels.models import Collectivite
from candidatures.dossiers import services
from candidatures.dossiers.models import (
    AccesCandidature,
    Brouillon,
    Candidature,
    Depot,
    Evenement,
    PieceJointe,
)
from cerdd_ami.admin import EMPTY, ReadOnlyAdminMixin
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.spreadsheets import export_filename, to_csv_response, to_xlsx_response

from .answers import review_of
from .exports import candidatures_rows

# A Depot is recorded before its receipt is rendered (submission.issue_receipt_task, by the
# worker).
RECU_EN_PREPARATION = "Accusé de réception en préparation : il sera envoyé par e-mail."


def person(user):
    """« Prénom Nom (e-mail) », or the e-mail alone: applicants often have no name."""
    if user is None:
        return EMPTY
    name = user.get_full_name()
    return f"{name} ({user.email})" if name else user.email


def statut_label(value):
    """The French label of a Candidature.Statut value kept as text in the log."""
    if not value:
        return EMPTY
    return Candidature.Statut(value).label if value in Candidature.Statut else value


def paris(value):
    """A datetime as « 12 mars 2021 à 23 h 59 » in Europe/Paris."""
    if value is None:
        return EMPTY
    return format_datetime_fr(value)


# ---------------------------------------------------------------------------------------------
# Filters


class CollectiviteDepartementFilter(DepartementFilter):
    field_path = "collectivite__departement"


class CommuneEpciFilter(admin.SimpleListFilter):
    """Dossiers whose commune and EPCI both applied (annotated in get_queryset)."""

    title = "commune et EPCI candidats"
    parameter_name = "commune_epci"

    def lookups(self, request, model_admin):
        return [("oui", "Signalés ⚑"), ("non", "Non signalés")]

    def queryset(self, request, queryset):
        if self.value() == "oui":
            return queryset.filter(candidatures_liees__isnull=False)
        if self.value() == "non":
            return queryset.filter(candidatures_liees__isnull=True)
        return queryset


def related_candidatures_subquery():
    """Names of the dossiers ``Candidature.related_candidatures()`` would return, or NULL.

    One subquery in the list's own query: a commune's EPCI, or an EPCI's member communes,
    applying to the same appel (drafts marked as such).
    """
    label = Concat(
        "collectivite__nom",
        Case(
            When(statut=Candidature.Statut.BROUILLON, then=Value(" (brouillon)")), default=Value("")
        ),
        output_field=CharField(),
    )
    related = (
        Candidature.objects.filter(appel=OuterRef("appel"))
        .filter(
            Q(collectivite=OuterRef("collectivite__epci"))
            | Q(collectivite__epci=OuterRef("collectivite"))
        )
        .exclude(pk=OuterRef("pk"))
        .order_by()
        .values("appel")
        .annotate(noms=StringAgg(label, delimiter=Value(", "), order_by="collectivite__nom"))
        .values("noms")
    )
    return Subquery(related, output_field=TextField())


# The call's application form, section by section: the staff and the jurors read it alike.
DOSSIER_FORM_FIELDSETS = [
    (
        "Coordonnées de la collectivité",
        {"fields": ["adresse", "code_postal", "ville", "telephone", "email_contact"]},
    ),
    (
        "Référent·e politique",
        {"fields": ["ref_pol_nom", "ref_pol_fonction", "ref_pol_email", "ref_pol_telephone"]},
    ),
    (
        "Référent·e technique",
        {
            "fields": [
                "ref_tech_nom",
                "ref_tech_fonction",
                "ref_tech_email",
                "ref_tech_telephone",
            ]
        },
    ),
    (
        "Point contact technique pour le Cerdd",
        {
            "description": "Si différent des référent·es politique ou technique.",
            "fields": ["contact_nom", "contact_fonction", "contact_email", "contact_telephone"],
        },
    ),
    ("Questionnaire de l'appel", {"fields": ["reponses_questionnaire"]}),
    (
        "Engagements",
        {
            "fields": [
                "engagement_binome_display",
                "engagement_experimentation_display",
                "consentement_donnees_display",
            ]
        },
    ),
]


def yes_no(value) -> str:
    # Words rather than the admin's boolean icons, whose alternative text is « True ».
    return "Oui" if value else "Non"


class DossierFormDisplays:
    """Read-only renderings of the commitments named in DOSSIER_FORM_FIELDSETS."""

    @admin.display(description="réponses")
    def reponses_questionnaire(self, obj):
        """The call's questions and this dossier's answers, files as links (4 queries)."""
        sections = []
        for titre, answers in review_of(obj):
            rows = []
            for question, text, pieces in answers:
                if question.est_fichier:
                    value = format_html_join(
                        mark_safe("<br>"),
                        '<a href="{}">{}</a>',
                        ((piece.get_absolute_url(), piece.nom_original) for piece in pieces),
                    )
                elif text:
                    value = format_html('<span class="reponse-texte">{}</span>', linebreaksbr(text))
                else:
                    value = ""
                rows.append(format_html("<dt>{}</dt><dd>{}</dd>", question.libelle, value or EMPTY))
            sections.append(
                format_html(
                    '<h3>{}</h3><dl class="reponses-questionnaire">{}</dl>',
                    titre,
                    format_html_join("", "{}", ((row,) for row in rows)),
                )
            )
        return format_html_join("", "{}", ((section,) for section in sections)) or EMPTY

    @admin.display(description="engagement à venir en binôme élu·e / technicien·ne")
    def engagement_binome_display(self, obj):
        return yes_no(obj.engagement_binome)

    @admin.display(description="engagement à expérimenter sur le territoire")
    def engagement_experimentation_display(self, obj):
        return yes_no(obj.engagement_experimentation)

    @admin.display(description="consentement au traitement des données")
    def consentement_donnees_display(self, obj):
        return yes_no(obj.consentement_donnees)


# ---------------------------------------------------------------------------------------------
# Dossiers: read-only inlines


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields


class PieceJointeInline(ReadOnlyInline):
    model = PieceJointe
    fields = ["fichier_lien", "question", "type_fichier", "taille_lisible", "sha256", "uploaded_at"]

    @admin.display(description="fichier")
    def fichier_lien(self, piece):
        return format_html('<a href="{}">{}</a>', piece.get_absolute_url(), piece.nom_original)

    @admin.display(description="type de fichier")
    def type_fichier(self, piece):
        return piece.type_mime

    @admin.display(description="taille")
    def taille_lisible(self, piece):
        return filesizeformat(piece.taille)


class DepotInline(ReadOnlyInline):
    model = Depot
    fields = ["version", "submitted_at", "submitted_by_display", "recu_lien"]
    verbose_name_plural = "dépôts (versions figées et accusés de réception)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("submitted_by")

    @admin.display(description="déposé par")
    def submitted_by_display(self, depot):
        return person(depot.submitted_by)

    @admin.display(description="accusé de réception")
    def recu_lien(self, depot):
        if not depot.recu:
            return RECU_EN_PREPARATION
        url = reverse("candidatures:recu", args=[depot.candidature_id, depot.version])
        return format_html('<a href="{}">Accusé de réception n° {} (PDF)</a>', url, depot.version)


class EvenementInline(ReadOnlyInline):
    model = Evenement
    fields = ["date", "nature", "actor_display", "avant", "apres", "detail_display"]
    verbose_name_plural = "historique du dossier"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description="date")
    def date(self, evenement):
        return paris(evenement.at)

    @admin.display(description="par")
    def actor_display(self, evenement):
        return person(evenement.actor)

    @admin.display(description="statut avant")
    def avant(self, evenement):
        return statut_label(evenement.statut_avant)

    @admin.display(description="statut après")
    def apres(self, evenement):
        return statut_label(evenement.statut_apres)

    @admin.display(description="détail")
    def detail_display(self, evenement):
        return evenement.detail or EMPTY


class AccesCandidatureInline(ReadOnlyInline):
    model = AccesCandidature
    fields = ["user_display", "role_display", "depuis", "invited_by_display"]
    verbose_name_plural = "personnes ayant accès au dossier"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "invited_by")

    @admin.display(description="personne")
    def user_display(self, acces):
        return person(acces.user)

    @admin.display(description="rôle")
    def role_display(self, acces):
        return acces.get_role_display()

    @admin.display(description="depuis le")
    def depuis(self, acces):
        return paris(acces.created_at)

    @admin.display(description="invité·e par")
    def invited_by_display(self, acces):
        return person(acces.invited_by)


# ---------------------------------------------------------------------------------------------
# Dossiers: actions


@admin.action(description="Exporter la sélection (CSV, Excel)", permissions=["view"])
def export_csv(modeladmin, request, queryset):
    headers, rows = candidatures_rows(queryset)
    return to_csv_response(headers, rows, export_filename(modeladmin.export_name, extension="csv"))


@admin.action(description="Exporter la sélection (XLSX)", permissions=["view"])
def export_xlsx(modeladmin, request, queryset):
    headers, rows = candidatures_rows(queryset)
    return to_xlsx_response(
        headers,
        rows,
        export_filename(modeladmin.export_name, extension="xlsx"),
        sheet_title=str(modeladmin.model._meta.verbose_name_plural).capitalize(),
    )


class ProlongationForm(forms.Form):
    until = forms.DateTimeField(
        label="Prolongation jusqu'au",
        help_text="Date et heure de Paris, à la minute près.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    reason = forms.CharField(
        label="Motif",
        help_text="Conservé dans l'historique du dossier.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


# ---------------------------------------------------------------------------------------------
# Dossiers: submitted ones and drafts, listed apart, with the same read-only page


class DossierAdminBase(ReadOnlyAdminMixin, DossierFormDisplays, admin.ModelAdmin):
    # The dossier belongs to the applicant: staff read it (view mode, no save button).
    # Without an object, the permission still governs the change actions.
    keeps_list_actions = True
    """The read-only dossier page shared by the submitted list and the drafts list."""

    export_name = "candidatures"
    # get_absolute_url is the applicant's page, which staff cannot open.
    view_on_site = False
    search_fields = [
        "numero",
        "collectivite__nom",
        "collectivite__insee",
        "collectivite__siren",
        "ref_pol_email",
        "ref_tech_email",
    ]
    list_select_related = ["appel", "collectivite"]
    inlines = [PieceJointeInline, DepotInline, EvenementInline, AccesCandidatureInline]
    fieldsets = [
        (
            "Dossier",
            {
                "fields": [
                    "appel",
                    "collectivite_detail",
                    "statut",
                    "numero",
                    "created_at",
                    "updated_at",
                    "deposee_at",
                    "prolongation_jusqu_au",
                    "candidatures_liees_detail",
                ]
            },
        ),
        *DOSSIER_FORM_FIELDSETS,
    ]

    def get_readonly_fields(self, request, obj=None):
        # Every field, prolongation_jusqu_au included: extensions go through the action, which
        # logs them.
        return [field for _, options in self.fieldsets for field in options["fields"]]

    @admin.display(description="collectivité")
    def collectivite_detail(self, obj):
        return obj.collectivite.libelle_complet

    @admin.display(description="candidatures liées (commune / EPCI)")
    def candidatures_liees_detail(self, obj):
        related = list(obj.related_candidatures())
        if not related:
            return EMPTY
        return "⚑ " + ", ".join(
            f"{other.collectivite.nom} ({other.numero or 'brouillon'})" for other in related
        )

    @admin.display(description="nature", ordering="collectivite__nature")
    def nature_type(self, obj):
        collectivite = obj.collectivite
        if collectivite.nature == Collectivite.Nature.COMMUNE:
            return collectivite.get_nature_display()
        return collectivite.get_type_epci_display()

    @admin.display(description="département", ordering="collectivite__departement")
    def departement(self, obj):
        return obj.collectivite.departement

    @admin.display(description="collectivité", ordering="collectivite__nom")
    def collectivite_nom(self, obj):
        return obj.collectivite.nom


class CandidatureAdmin(DossierAdminBase):
    """Submitted dossiers only; drafts are under « Brouillons »."""

    list_display = [
        "numero",
        "collectivite_nom",
        "nature_type",
        "departement",
        "deposee_at",
        "referent_politique",
        "commune_epci",
    ]
    list_display_links = ["numero", "collectivite_nom"]
    list_filter = [
        "appel",
        CollectiviteDepartementFilter,
        "collectivite__nature",
        "collectivite__type_epci",
        CommuneEpciFilter,
    ]
    actions = ["accorder_prolongation", export_csv, export_xlsx]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .deposees()
            .annotate(candidatures_liees=related_candidatures_subquery())
        )

    @admin.display(description="référent·e politique", ordering="ref_pol_nom")
    def referent_politique(self, obj):
        if not obj.ref_pol_nom:
            return EMPTY
        if obj.ref_pol_fonction:
            return f"{obj.ref_pol_nom}, {obj.ref_pol_fonction}"
        return obj.ref_pol_nom

    @admin.display(description="commune / EPCI")
    def commune_epci(self, obj):
        if not obj.candidatures_liees:
            return ""
        return f"⚑ commune/EPCI : {obj.candidatures_liees}"

    @admin.action(description="Accorder une prolongation", permissions=["change"])
    def accorder_prolongation(self, request, queryset):
        form = ProlongationForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            until, reason = form.cleaned_data["until"], form.cleaned_data["reason"]
            granted = 0
            for candidature in queryset.select_related("appel", "collectivite"):
                try:
                    services.grant_extension(
                        candidature=candidature,
                        until=until,
                        staff_user=request.user,
                        reason=reason,
                    )
                except ValidationError as error:
                    self.message_user(
                        request, f"{candidature} : {' '.join(error.messages)}", messages.ERROR
                    )
                else:
                    granted += 1
            if granted:
                self.message_user(
                    request,
                    f"Prolongation accordée jusqu'au {paris(until)} (heure de Paris) "
                    f"à {granted} dossier{'s' if granted > 1 else ''}.",
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Accorder une prolongation",
            "opts": self.model._meta,
            "form": form,
            "dossiers": queryset.select_related("collectivite"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "accorder_prolongation",
            "media": self.media + form.media,
        }
        return TemplateResponse(
            request, "admin/candidatures/candidature/accorder_prolongation.html", context
        )


@admin.register(Brouillon)
class BrouillonAdmin(DossierAdminBase):
    """Dossiers in progress: never shown to the jury, listed apart from submitted ones."""

    export_name = "brouillons"
    list_display = [
        "collectivite_nom",
        "nature_type",
        "departement",
        "appel",
        "created_at",
        "updated_at",
        "completude",
    ]
    list_display_links = ["collectivite_nom"]
    list_filter = [
        "appel",
        CollectiviteDepartementFilter,
        "collectivite__nature",
        "collectivite__type_epci",
    ]
    actions = [export_csv, export_xlsx]
    ordering = ["-updated_at"]

    def get_queryset(self, request):
        # completude() reads each draft's pieces, answers and its call's questionnaire: one
        # query each for the whole page.
        return (
            super()
            .get_queryset(request)
            .prefetch_related("pieces", "reponses", "appel__etapes_questionnaire__questions")
        )

    @admin.display(description="complétude")
    def completude(self, obj):
        missing = len(obj.missing_items())
        if not missing:
            return "Complet, non déposé"
        return f"{missing} élément{'s' if missing > 1 else ''} manquant{'s' if missing > 1 else ''}"


class AppelDossiersAdminMixin:
    """The call's admin list, with its dossiers counted: submitted ones and drafts, each a
    link to the filtered dossier list."""

    def get_list_display(self, request):
        return [*super().get_list_display(request), "nb_deposees", "nb_brouillons"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                nb_deposees_count=Count(
                    "candidatures", filter=Q(candidatures__statut=Candidature.Statut.DEPOSEE)
                ),
                nb_brouillons_count=Count(
                    "candidatures", filter=Q(candidatures__statut=Candidature.Statut.BROUILLON)
                ),
            )
        )

    @admin.display(description="dossiers déposés", ordering="nb_deposees_count")
    def nb_deposees(self, obj):
        url = reverse("admin:candidatures_candidature_changelist")
        return format_html(
            '<a href="{}?appel__id__exact={}">{}</a>', url, obj.pk, obj.nb_deposees_count
        )

    @admin.display(description="brouillons", ordering="nb_brouillons_count")
    def nb_brouillons(self, obj):
        url = reverse("admin:candidatures_brouillon_changelist")
        return format_html(
            '<a href="{}?appel__id__exact={}">{}</a>', url, obj.pk, obj.nb_brouillons_count
        )
