"""Juror-facing admin: dossiers to score, évaluation form, recusal.

Everything a juror reaches here goes through ``Candidature.objects.for_juror(user)``: a draft,
a dossier of another call or not assigned to them, or one they are in conflict with is a 404,
whatever the URL. Writes go through ``services`` (save_evaluation, declare_conflict) only.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import OuterRef, Prefetch, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from candidatures.appels.models import Appel, Collectivite
from candidatures.dossiers.admin import (
    DOSSIER_FORM_FIELDSETS,
    RECU_EN_PREPARATION,
    CollectiviteDepartementFilter,
    DossierFormDisplays,
    paris,
)
from candidatures.jury import services as jury_services
from candidatures.jury.forms import DeportForm, EvaluationForm
from cerdd_ami.admin import EMPTY, ReadOnlyAdminMixin

from .models import Affectation, DossierJury, Evaluation, MembreJury, Note

# The juror's own évaluation state as annotated on the list ("" when none exists yet).
NON_COMMENCEE = ""
STATUT_LABELS = {
    NON_COMMENCEE: "Non commencée",
    Evaluation.Statut.BROUILLON: "Brouillon",
    Evaluation.Statut.SOUMISE: "Soumise",
}
SCORING_CLOSED = "La notation est close."
SCORING_NOT_STARTED = (
    "La notation n'a pas commencé : elle s'ouvre après la date limite de dépôt des dossiers."
)


class MonEvaluationFilter(admin.SimpleListFilter):
    title = "mon évaluation"
    parameter_name = "mon_evaluation"

    def lookups(self, request, model_admin):
        return [
            ("non_commencee", "Non commencée"),
            (Evaluation.Statut.BROUILLON, "Brouillon"),
            (Evaluation.Statut.SOUMISE, "Soumise"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "non_commencee":
            return queryset.filter(mon_statut=NON_COMMENCEE)
        if value in (Evaluation.Statut.BROUILLON, Evaluation.Statut.SOUMISE):
            return queryset.filter(mon_statut=value)
        return queryset


class AppelDuJureFilter(admin.SimpleListFilter):
    """The calls this juror sits on: a juror of several editions scores one at a time. The
    list opens on the calls being scored (all of them when none is); closed calls apart."""

    title = "appel"
    parameter_name = "appel"
    ALL = "tous"

    def lookups(self, request, model_admin):
        appels = Appel.objects.filter(membres_jury__user=request.user).order_by("-closes_at")
        return [
            (self.ALL, "Tous mes appels"),
            *[(str(appel.pk), f"{appel.titre} ({appel.slug})") for appel in appels],
        ]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "En cours de notation",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            scored = Appel.objects.scoring_open().filter(membres_jury__user=request.user)
            scored_ids = list(scored.values_list("pk", flat=True))
            return queryset.filter(appel_id__in=scored_ids) if scored_ids else queryset
        if value.isdigit():
            return queryset.filter(appel_id=int(value))
        return queryset


def scoring_message(appel, now=None) -> str:
    """Why the évaluation cannot change now, or "" while scoring is open."""
    if appel.scoring_is_open(now):
        return ""
    return SCORING_CLOSED if appel.notation_close_at else SCORING_NOT_STARTED


def evaluation_state(evaluation) -> str:
    """« Non commencée », « Brouillon (enregistré le …) » or « Soumise le … »."""
    if evaluation is None:
        return STATUT_LABELS[NON_COMMENCEE]
    if evaluation.statut == Evaluation.Statut.SOUMISE:
        return f"Soumise le {paris(evaluation.submitted_at)}"
    return f"Brouillon (enregistré le {paris(evaluation.updated_at)})"


def juror_name(user) -> str:
    return user.get_full_name() or user.email


@admin.register(DossierJury)
class DossierJuryAdmin(ReadOnlyAdminMixin, DossierFormDisplays, admin.ModelAdmin):
    """« Dossiers à évaluer »: the juror's list, read-only dossier page, évaluation, recusal.

    Read-only: the dossier belongs to the applicant; jurors write their évaluation on its own
    page.
    """

    list_display = [
        "numero",
        "collectivite_nom",
        "departement",
        "nature_type",
        "mon_evaluation",
        "evaluer",
    ]
    list_display_links = ["numero", "collectivite_nom"]
    list_filter = [AppelDuJureFilter, MonEvaluationFilter, CollectiviteDepartementFilter]
    list_select_related = ["collectivite"]
    search_fields = ["numero", "collectivite__nom"]
    ordering = ["numero"]
    actions = None
    # get_absolute_url is the applicant's page; jurors never go there.
    view_on_site = False
    fieldsets = [
        (
            "Dossier",
            {
                "fields": [
                    "numero",
                    "appel_titre",
                    "collectivite_detail",
                    "deposee_le",
                    "pieces_jointes",
                    "accuse_reception",
                ]
            },
        ),
        *DOSSIER_FORM_FIELDSETS,
    ]

    # -- who sees what ------------------------------------------------------------------------

    def get_queryset(self, request):
        # Exactly the dossiers this juror may score, for everyone: a staff member who does not
        # sit on a jury sees an empty list here and uses the staff pages instead.
        mine = Evaluation.objects.filter(candidature=OuterRef("pk"), jure=request.user)
        return DossierJury.objects.for_juror(request.user).annotate(
            mon_statut=Coalesce(Subquery(mine.values("statut")[:1]), Value(NON_COMMENCEE))
        )

    def changelist_view(self, request, extra_context=None):
        # The admin's « Sélectionnez l'objet … à afficher » reads oddly for a to-do list.
        extra_context = {"title": "Dossiers à évaluer", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_object(self, request, object_id, from_field=None):
        # The admin's default for a missing object is a redirect to the index with a message
        # saying it may have been deleted; a dossier one may not see must simply not exist.
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Aucun dossier à évaluer ne correspond.")
        return obj

    def history_view(self, request, object_id, extra_context=None):
        # No such page here, for anyone: a dossier's history is staff business (on the staff
        # dossier page), and a juror's own changes are in their évaluation.
        raise Http404

    def delete_view(self, request, object_id, extra_context=None):
        # Nobody deletes a dossier from the jury's pages; a 404 (rather than the admin's
        # 403 or « does not exist » redirect) says the same thing to every juror.
        raise Http404

    def get_readonly_fields(self, request, obj=None):
        return [field for _, options in self.fieldsets for field in options["fields"]]

    # -- list columns -------------------------------------------------------------------------

    @admin.display(description="collectivité", ordering="collectivite__nom")
    def collectivite_nom(self, obj):
        return obj.collectivite.nom

    @admin.display(description="département", ordering="collectivite__departement")
    def departement(self, obj):
        return obj.collectivite.departement

    @admin.display(description="nature", ordering="collectivite__nature")
    def nature_type(self, obj):
        collectivite = obj.collectivite
        if collectivite.nature == Collectivite.Nature.COMMUNE:
            return collectivite.get_nature_display()
        return collectivite.get_type_epci_display()

    @admin.display(description="mon évaluation", ordering="mon_statut")
    def mon_evaluation(self, obj):
        return STATUT_LABELS.get(obj.mon_statut, obj.mon_statut)

    @admin.display(description="action")
    def evaluer(self, obj):
        url = reverse("admin:candidatures_dossierjury_evaluer", args=[obj.pk])
        return format_html('<a href="{}">Évaluer</a>', url)

    # -- dossier page fields ------------------------------------------------------------------

    @admin.display(description="appel")
    def appel_titre(self, obj):
        return obj.appel.titre

    @admin.display(description="collectivité")
    def collectivite_detail(self, obj):
        return obj.collectivite.libelle_complet

    @admin.display(description="déposé le")
    def deposee_le(self, obj):
        return paris(obj.deposee_at)

    @admin.display(description="documents complémentaires")
    def pieces_jointes(self, obj):
        # The files answering a question are with their answers (« réponses »); here only the
        # pieces sent afterwards, on a « demande de complément », which answer no question.
        pieces = list(obj.pieces.filter(question__isnull=True))
        if not pieces:
            return EMPTY
        # The public file view lets jurors download what for_juror lets them read.
        return format_html(
            '<ul class="pieces-jointes">{}</ul>',
            format_html_join(
                "",
                '<li><a href="{}">{}</a> ({})</li>',
                (
                    (piece.get_absolute_url(), piece.nom_original, piece.get_nature_display())
                    for piece in pieces
                ),
            ),
        )

    @admin.display(description="accusé de réception")
    def accuse_reception(self, obj):
        depot = obj.depots.order_by("-version").first()
        if depot is None:
            return EMPTY
        if not depot.recu:
            return RECU_EN_PREPARATION
        url = reverse("candidatures:recu", args=[obj.pk, depot.version])
        return format_html(
            '<a href="{}">Dossier déposé et accusé de réception (PDF, version {})</a>',
            url,
            depot.version,
        )

    # -- dossier page: buttons, own state, the others' évaluations -----------------------------

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context.update(self.jury_context(request, obj))
            context["title"] = f"Dossier {obj.numero} — {obj.collectivite.nom}"
        return super().render_change_form(request, context, add, change, form_url, obj)

    def jury_context(self, request, dossier) -> dict:
        evaluation = Evaluation.objects.filter(candidature=dossier, jure=request.user).first()
        appel = dossier.appel
        return {
            "evaluation_state": evaluation_state(evaluation),
            "scoring_message": scoring_message(appel),
            "evaluer_url": reverse("admin:candidatures_dossierjury_evaluer", args=[dossier.pk]),
            "deporter_url": reverse("admin:candidatures_dossierjury_deporter", args=[dossier.pk]),
            "deliberation_ouverte": appel.deliberation_ouverte,
            "autres_evaluations": (
                self.other_evaluations(request, dossier) if appel.deliberation_ouverte else []
            ),
        }

    def other_evaluations(self, request, dossier) -> list:
        """The other jurors' submitted évaluations, without those of jurors in conflict.

        ``counted()`` leaves out declared and registered conflicts; ties detected from a
        juror's collectivité but not yet in the register are left out here too, as for_juror
        does, and so are jurors removed from the jury or no longer assigned the dossier, so the
        page never shows an évaluation the ranking ignores.
        """
        appel = dossier.appel
        colleagues = MembreJury.objects.filter(appel=appel.pk).values("user")
        if appel.mode_jury == Appel.ModeJury.AFFECTATION:
            # Only colleagues who may still score the dossier, as in the ranking.
            colleagues = Affectation.objects.filter(
                candidature=dossier, jure__in=colleagues
            ).values("jure")
        evaluations = list(
            Evaluation.objects.counted()
            .filter(candidature=dossier, jure__in=colleagues)
            .exclude(jure=request.user)
            .select_related("jure")
            .prefetch_related(Prefetch("notes", queryset=Note.objects.select_related("critere")))
            .order_by("submitted_at", "pk")
        )
        if not evaluations:
            return []
        own = dossier.collectivite
        tied = {
            member.user_id
            for member in MembreJury.objects.filter(
                appel=dossier.appel_id, collectivite__isnull=False
            ).select_related("collectivite")
            if own.pk in (member.collectivite_id, member.collectivite.epci_id)
            or (own.epci_id is not None and own.epci_id == member.collectivite_id)
        }
        return [
            {
                "jure": juror_name(evaluation.jure),
                "submitted_at": paris(evaluation.submitted_at),
                "recommandation": evaluation.get_recommandation_display(),
                "notes": list(evaluation.notes.all()),
                "retour_collectivite": evaluation.retour_collectivite,
                "commentaire_prive": evaluation.commentaire_prive,
            }
            for evaluation in evaluations
            if evaluation.jure_id not in tied
        ]

    # -- custom pages -------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<int:pk>/evaluer/",
                self.admin_site.admin_view(self.evaluer_view),
                name="{}_{}_evaluer".format(*info),
            ),
            path(
                "<int:pk>/deporter/",
                self.admin_site.admin_view(self.deporter_view),
                name="{}_{}_deporter".format(*info),
            ),
            *super().get_urls(),
        ]

    def dossier_or_404(self, request, pk):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(
            self.get_queryset(request).select_related("appel", "collectivite"), pk=pk
        )

    def page_context(self, request, dossier, title) -> dict:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": str(dossier),
            "opts": self.opts,
            "dossier": dossier,
            "has_view_permission": True,
            "dossier_url": reverse("admin:candidatures_dossierjury_change", args=[dossier.pk]),
        }

    def evaluer_view(self, request, pk):
        dossier = self.dossier_or_404(request, pk)
        appel = dossier.appel
        evaluation = (
            Evaluation.objects.filter(candidature=dossier, jure=request.user)
            .prefetch_related("notes")
            .first()
        )
        closed = scoring_message(appel)
        if request.method == "POST":
            form = EvaluationForm(dossier, evaluation, data=request.POST, disabled=bool(closed))
            if form.is_valid():
                # A submitted évaluation stays submitted: every change to it is checked for
                # completeness again, rather than saved as a draft the ranking would count.
                already_submitted = (
                    evaluation is not None and evaluation.statut == Evaluation.Statut.SOUMISE
                )
                submit = "soumettre" in request.POST or already_submitted
                try:
                    jury_services.save_evaluation(
                        candidature=dossier,
                        jure=request.user,
                        notes=form.notes(),
                        commentaire_prive=form.cleaned_data["commentaire_prive"],
                        retour_collectivite=form.cleaned_data["retour_collectivite"],
                        recommandation=form.cleaned_data["recommandation"],
                        submit=submit,
                    )
                except ValidationError as error:
                    form.add_error(None, error)
                else:
                    if already_submitted:
                        text = "Votre évaluation soumise a été mise à jour."
                    elif submit:
                        text = "Votre évaluation est soumise. Merci !"
                    else:
                        text = (
                            "Brouillon enregistré. Vous pourrez le reprendre puis le soumettre "
                            "jusqu'à la clôture de la notation."
                        )
                    self.message_user(request, text, messages.SUCCESS)
                    return redirect("admin:candidatures_dossierjury_evaluer", pk=dossier.pk)
        else:
            form = EvaluationForm(dossier, evaluation, disabled=bool(closed))
        context = {
            **self.page_context(request, dossier, "Évaluer le dossier"),
            "form": form,
            "evaluation": evaluation,
            "evaluation_state": evaluation_state(evaluation),
            "soumise": evaluation is not None and evaluation.statut == Evaluation.Statut.SOUMISE,
            "scoring_message": closed,
            "notation_close_at": paris(appel.notation_close_at) if appel.notation_close_at else "",
        }
        return TemplateResponse(request, "admin/candidatures/dossierjury/evaluer.html", context)

    def deporter_view(self, request, pk):
        dossier = self.dossier_or_404(request, pk)
        form = DeportForm(request.POST if request.method == "POST" else None)
        if form.is_valid():
            try:
                jury_services.declare_conflict(
                    candidature=dossier, jure=request.user, motif=form.cleaned_data["motif"]
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    f"Vous vous êtes déporté·e du dossier {dossier}. Il n'apparaît plus dans "
                    "votre liste et votre éventuelle évaluation n'est pas comptée.",
                    messages.SUCCESS,
                )
                return redirect("admin:candidatures_dossierjury_changelist")
        context = {
            **self.page_context(request, dossier, "Je me déporte (conflit d'intérêts)"),
            "form": form,
        }
        return TemplateResponse(request, "admin/candidatures/dossierjury/deporter.html", context)
