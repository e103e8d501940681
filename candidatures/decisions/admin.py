"""Staff admin of decisions: recording them (one by one, or in bulk from the submitted
dossiers), the call's capacity always in view, publication, withdrawals and the waiting list,
letters to download and export.

The submitted dossiers' admin and the call's admin get their decisions' part from
``admin_mixins`` (composed in ``candidatures/admin.py``). Every state change goes through
``candidatures.decisions.services`` and ``publication``.
"""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from candidatures.appels.models import Appel
from candidatures.decisions import exports, letters, publication
from candidatures.decisions import services as decisions_services
from candidatures.dossiers.admin import ReadOnlyInline, paris, person
from candidatures.dossiers.models import Candidature
from cerdd_ami.admin import EMPTY, HistoryAdmin, ReadOnlyAdminMixin
from cerdd_ami.files import private_file_response
from cerdd_ami.pdf import download_response, pdf_response
from cerdd_ami.spreadsheets import export_filename

from .admin_exports import status_url
from .forms import DecisionForm
from .models import Courrier, Decision, EnvoiCourrier, Export, Issue

DECISION_PERMISSIONS = ("candidatures.add_decision", "candidatures.change_decision")


def can_decide(user) -> bool:
    return user.is_active and user.is_staff and user.has_perms(DECISION_PERMISSIONS)


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count <= 1 else (plural or singular + 's')}"


def issue_label(decision) -> str:
    label = decision.get_issue_display()
    if decision.issue == Issue.LISTE_ATTENTE and decision.rang_attente:
        label += f" (rang {decision.rang_attente})"
    if decision.desistement_at:
        label += " — désistement"
    return label


def panels_for(appels) -> list[decisions_services.Capacite]:
    return [decisions_services.capacity(appel) for appel in appels]


# ---------------------------------------------------------------------------------------------
# One decision: form, letters, sendings


class CourrierInline(ReadOnlyInline):
    model = Courrier
    fields = ["version", "issue", "classe_le", "telecharger", "sha256", "envois"]
    verbose_name_plural = "courriers classés (une version par courrier envoyé)"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("envois")

    @admin.display(description="classé le")
    def classe_le(self, courrier):
        return paris(courrier.created_at)

    @admin.display(description="PDF")
    def telecharger(self, courrier):
        url = reverse("admin:candidatures_decision_courrier", args=[courrier.decision_id])
        return format_html(
            '<a href="{}?version={}">Courrier v{} (PDF)</a>',
            url,
            courrier.version,
            courrier.version,
        )

    @admin.display(description="envois par e-mail")
    def envois(self, courrier):
        rows = list(courrier.envois.all())
        if not rows:
            return EMPTY
        return format_html_join(
            "",
            "<div>{} : {}{}</div>",
            (
                (
                    envoi.destinataire,
                    envoi.get_statut_display(),
                    _envoi_detail(envoi),
                )
                for envoi in rows
            ),
        )


def _envoi_detail(envoi) -> str:
    if envoi.statut == EnvoiCourrier.Statut.ENVOYE and envoi.envoye_at:
        return f" le {paris(envoi.envoye_at)}"
    if envoi.statut == EnvoiCourrier.Statut.ECHEC:
        return f" ({_plural(envoi.tentatives, 'tentative')} ; {envoi.erreur})"
    return ""


class PublieeFilter(admin.SimpleListFilter):
    title = "publication"
    parameter_name = "publiee"

    def lookups(self, request, model_admin):
        return [("oui", "Publiées"), ("non", "À publier")]

    def queryset(self, request, queryset):
        if self.value() == "oui":
            return queryset.filter(published_at__isnull=False)
        if self.value() == "non":
            return queryset.filter(published_at__isnull=True)
        return queryset


class DesistementForm(forms.Form):
    reason = forms.CharField(
        label="Motif du désistement",
        help_text="Conservé dans l'historique de la décision.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )


@admin.register(Decision)
class DecisionAdmin(HistoryAdmin):
    """Decisions of every call, the capacity panel above the list, letters and sendings."""

    form = DecisionForm
    radio_fields = {"issue": admin.VERTICAL}
    change_list_template = "admin/candidatures/decision/change_list.html"
    change_form_template = "admin/candidatures/decision/change_form.html"
    list_display = [
        "numero",
        "collectivite_nom",
        "issue_display",
        "motivation_courte",
        "avec_retour",
        "publication",
        "courrier",
    ]
    list_display_links = ["numero", "collectivite_nom"]
    list_filter = ["candidature__appel", "issue", PublieeFilter]
    list_select_related = ["candidature__collectivite", "candidature__appel"]
    search_fields = ["candidature__numero", "candidature__collectivite__nom"]
    actions = ["export_pdf", "export_zip", "enregistrer_desistement"]
    inlines = [CourrierInline]
    # get_absolute_url is not defined: no « voir sur le site ».
    view_on_site = False
    empty_value_display = EMPTY

    # -- pages ----------------------------------------------------------------------------------

    def get_fieldsets(self, request, obj=None):
        decision = ["issue", "rang_attente", "motivation", "retour_jury"]
        if obj is None:
            return [(None, {"fields": ["candidature", *decision]})]
        return [
            ("Dossier", {"fields": ["dossier"]}),
            ("Décision", {"fields": decision}),
            (
                "Suivi",
                {
                    "fields": [
                        "decided_by_display",
                        "decided_at_display",
                        "published_at_display",
                        "desistement_at_display",
                        "desistement_motif",
                    ]
                },
            ),
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        shown = [
            "dossier",
            "decided_by_display",
            "decided_at_display",
            "published_at_display",
            "desistement_at_display",
            "desistement_motif",
        ]
        if not self.has_change_permission(request, obj):
            shown += ["issue", "rang_attente", "motivation", "retour_jury"]
        return shown

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None):
        # A published decision changes only through a withdrawal or the waiting list.
        if obj is not None and obj.published_at is not None:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Every submitted dossier gets a decision: a staged one is changed, never removed.
        return False

    def revert_disabled(self, request, obj=None):
        # History is read, never restored: a restore would bypass the decision rules.
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def has_desistement_permission(self, request):
        return request.user.has_perm("candidatures.change_decision")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        decision = decisions_services.decide(
            candidature=data.get("candidature") or obj.candidature,
            issue=data["issue"],
            motivation=data.get("motivation", ""),
            retour_jury=data.get("retour_jury", ""),
            rang_attente=data.get("rang_attente"),
            staff_user=request.user,
        )
        obj.pk = decision.pk
        obj.refresh_from_db()
        panel = decisions_services.capacity(decision.candidature.appel)
        if panel.depassement:
            self.message_user(request, f"{panel.texte}. {panel.avertissement}", messages.WARNING)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        appel = None
        if object_id and str(object_id).isdigit():
            decision = (
                Decision.objects.select_related("candidature__appel").filter(pk=object_id).first()
            )
            appel = decision.candidature.appel if decision else None
        else:
            candidature_id = request.POST.get("candidature") or request.GET.get("candidature")
            if candidature_id and str(candidature_id).isdigit():
                candidature = (
                    Candidature.objects.select_related("appel").filter(pk=candidature_id).first()
                )
                appel = candidature.appel if candidature else None
        extra_context = {
            **(extra_context or {}),
            "panels": [decisions_services.capacity(appel)] if appel is not None else [],
        }
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        appel_id = request.GET.get("candidature__appel__id__exact")
        if appel_id and appel_id.isdigit():
            appels = Appel.objects.filter(pk=appel_id)
        else:
            appels = Appel.objects.filter(candidatures__decision__isnull=False).distinct()
        extra_context = {
            **(extra_context or {}),
            "panels": panels_for(appels.order_by("-opens_at")),
            "can_decide": can_decide(request.user),
        }
        return super().changelist_view(request, extra_context)

    # -- columns --------------------------------------------------------------------------------

    @admin.display(description="numéro", ordering="candidature__numero")
    def numero(self, obj):
        return obj.candidature.numero

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite_nom(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="décision", ordering="issue")
    def issue_display(self, obj):
        return issue_label(obj)

    @admin.display(description="motivation")
    def motivation_courte(self, obj):
        text = " ".join(obj.motivation.split())
        return text[:90] + "…" if len(text) > 90 else text or EMPTY

    @admin.display(description="retour du jury", boolean=True)
    def avec_retour(self, obj):
        return bool(obj.retour_jury)

    @admin.display(description="publication", ordering="published_at")
    def publication(self, obj):
        if obj.published_at:
            return f"Publiée le {paris(obj.published_at)}"
        return "À publier"

    @admin.display(description="courrier")
    def courrier(self, obj):
        url = reverse("admin:candidatures_decision_courrier", args=[obj.pk])
        label = "Télécharger (PDF)" if obj.published_at else "Aperçu (PDF)"
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.display(description="dossier")
    def dossier(self, obj):
        candidature = obj.candidature
        url = reverse("admin:candidatures_candidature_change", args=[candidature.pk])
        return format_html(
            '<a href="{}">{} — {}</a> ({})',
            url,
            candidature.numero,
            candidature.collectivite.nom,
            candidature.appel.titre,
        )

    @admin.display(description="décidée par")
    def decided_by_display(self, obj):
        return person(obj.decided_by)

    @admin.display(description="décidée le")
    def decided_at_display(self, obj):
        return paris(obj.decided_at)

    @admin.display(description="publiée le")
    def published_at_display(self, obj):
        return paris(obj.published_at) if obj.published_at else "Pas encore publiée"

    @admin.display(description="désistement le")
    def desistement_at_display(self, obj):
        return paris(obj.desistement_at)

    # -- URLs: one letter, the waiting list -----------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/courrier/",
                wrap(self.courrier_view),
                name="candidatures_decision_courrier",
            ),
            path(
                "appel/<int:appel_pk>/appeler-suivant/",
                wrap(self.promote_view),
                name="candidatures_decision_promouvoir",
            ),
            *super().get_urls(),
        ]

    def courrier_view(self, request, pk):
        """A filed letter (the latest, or ``?version=``); before filing, a preview rendered now
        and filed nowhere."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        decision = get_object_or_404(
            Decision.objects.select_related("candidature__appel", "candidature__collectivite"),
            pk=pk,
        )
        courriers = decision.courriers.order_by("-version")
        version = request.GET.get("version", "")
        if version:
            if not version.isdigit():
                raise Http404
            courrier = get_object_or_404(courriers, version=int(version))
        else:
            courrier = courriers.first()
        filename = letters.letter_filename(decision)
        if courrier is None:
            pdf = letters.render_letter_pdf(decision)
            return pdf_response(pdf, f"apercu-{filename}", inline=True)
        if version:
            filename = f"{filename.removesuffix('.pdf')}-v{courrier.version}.pdf"
        return private_file_response(courrier.pdf, filename, "application/pdf")

    def promote_view(self, request, appel_pk):
        return _promote(self, request, appel_pk)

    # -- actions --------------------------------------------------------------------------------

    def _export(self, request, queryset, kind):
        """Up to ``settings.LETTERS_PER_REQUEST`` letters, the file itself; above, an export
        prepared by the worker, and its status page."""
        if queryset.count() > settings.LETTERS_PER_REQUEST:
            ids = list(queryset.values_list("pk", flat=True))
            appels = set(queryset.values_list("candidature__appel", flat=True).distinct())
            export = exports.request_export(
                kind=kind,
                requested_by=request.user,
                appel=Appel.objects.get(pk=appels.pop()) if len(appels) == 1 else None,
                decision_ids=ids,
            )
            self.message_user(
                request,
                f"{len(ids)} courriers : l'export est préparé en tâche de fond. Vous recevrez "
                "un e-mail quand il sera prêt ; il reste aussi dans « Exports ».",
                messages.INFO,
            )
            return redirect(status_url(export))
        decisions = list(
            queryset.select_related("candidature__appel", "candidature__collectivite").order_by(
                "candidature__appel", "candidature__numero"
            )
        )
        if kind == Export.Kind.LETTRES_ZIP:
            archive = letters.letters_zip(decisions)
            return download_response(
                archive, "application/zip", export_filename("courriers", extension="zip")
            )
        pdf = letters.render_letters_merged_pdf(decisions)
        return pdf_response(pdf, export_filename("courriers", extension="pdf"))

    # Filed letters are exported as filed (the latest version, as it was sent); the others,
    # not published yet, are rendered now.
    @admin.action(description="Exporter les courriers (PDF fusionné)", permissions=["view"])
    def export_pdf(self, request, queryset):
        return self._export(request, queryset, Export.Kind.LETTRES_PDF)

    @admin.action(description="Exporter les courriers (ZIP)", permissions=["view"])
    def export_zip(self, request, queryset):
        return self._export(request, queryset, Export.Kind.LETTRES_ZIP)

    @admin.action(description="Enregistrer un désistement", permissions=["desistement"])
    def enregistrer_desistement(self, request, queryset):
        decisions = queryset.select_related("candidature__collectivite", "candidature__appel")
        form = DesistementForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            recorded = []
            for decision in decisions:
                try:
                    decisions_services.record_withdrawal(
                        candidature=decision.candidature,
                        staff_user=request.user,
                        reason=form.cleaned_data["reason"],
                    )
                except ValidationError as error:
                    self.message_user(
                        request,
                        f"{decision.candidature.collectivite.nom} : {' '.join(error.messages)}",
                        messages.ERROR,
                    )
                else:
                    recorded.append(decision.candidature.collectivite.nom)
            if recorded:
                self.message_user(
                    request,
                    f"Désistement enregistré : {', '.join(recorded)}. La place libérée peut être "
                    "proposée au premier dossier de la liste d'attente (« Appeler le suivant de "
                    "la liste d'attente », au-dessus de la liste).",
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Enregistrer un désistement",
            "opts": self.opts,
            "form": form,
            "decisions": decisions,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "enregistrer_desistement",
        }
        return TemplateResponse(request, "admin/candidatures/decision/desistement.html", context)


def _promote(model_admin, request, appel_pk):
    # Not @require_POST: that decorator takes its first argument for the request.
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if not can_decide(request.user):
        raise PermissionDenied
    appel = get_object_or_404(Appel, pk=appel_pk)
    try:
        decision = publication.promote_next(appel=appel, staff_user=request.user)
    except ValidationError as error:
        model_admin.message_user(request, " ".join(error.messages), messages.ERROR)
    else:
        if decision is None:
            model_admin.message_user(request, "La liste d'attente est vide.", messages.WARNING)
        else:
            message = f"{decision.candidature.collectivite.nom} est désormais retenue."
            if decision.published_at:
                message += (
                    " Son nouveau courrier est préparé et envoyé aux référent·es par le "
                    "worker : suivez-le dans « Envois de courrier »."
                )
            level = messages.SUCCESS
            model_admin.message_user(request, message, level)
    changelist = reverse("admin:candidatures_decision_changelist")
    return redirect(f"{changelist}?candidature__appel__id__exact={appel.pk}")


@admin.register(EnvoiCourrier)
class EnvoiCourrierAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every e-mail of a letter and its fate: what « Publier les décisions » retries."""

    list_display = [
        "destinataire",
        "collectivite",
        "version",
        "statut",
        "tentatives",
        "derniere_tentative",
        "envoye",
        "erreur",
    ]
    list_filter = ["statut", "courrier__decision__candidature__appel"]
    list_select_related = ["courrier__decision__candidature__collectivite"]
    search_fields = ["destinataire", "courrier__decision__candidature__collectivite__nom"]
    actions = None

    @admin.display(description="collectivité")
    def collectivite(self, obj):
        return obj.courrier.decision.candidature.collectivite.nom

    @admin.display(description="courrier", ordering="courrier__version")
    def version(self, obj):
        return f"{obj.courrier.get_issue_display()} — v{obj.courrier.version}"

    @admin.display(description="dernière tentative", ordering="derniere_tentative_at")
    def derniere_tentative(self, obj):
        return paris(obj.derniere_tentative_at)

    @admin.display(description="envoyé le", ordering="envoye_at")
    def envoye(self, obj):
        return paris(obj.envoye_at)
