"""Staff jury dashboard in the admin: progress, ranking, calibration, charts, exports.

``AppelJuryAdmin`` replaces the registered ``AppelAdmin`` (same pages, plus the call's jury
settings, its members inline, and the dashboard URLs below). Every state change goes through
``candidatures.jury.services``; the numbers come from ``candidatures.jury.ranking``.

Who sees what: the dashboard needs the view permissions on appels, candidatures and
évaluations (the chargé·e de mission has them; jurors never hold ``view_candidature``, which
is what ``readable_by`` tells them apart by); its actions also need ``change_appel``.
"""

from collections import defaultdict

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from candidatures.admin import AppelAdmin, paris, person
from candidatures.jury import charts, ranking
from candidatures.jury import services as jury_services
from candidatures.models import Appel, Candidature
from cerdd_ami import roles
from cerdd_ami.admin import EMPTY, HistoryAdmin, ReadOnlyAdminMixin
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from cerdd_ami.pdf import pdf_from_html, pdf_response
from cerdd_ami.spreadsheets import csv_lines, export_filename, to_xlsx_response

from .models import Affectation, ConflitInteret, Evaluation, MembreJury, Note

DASHBOARD_PERMISSIONS = (
    "candidatures.view_appel",
    "candidatures.view_candidature",
    "candidatures.view_evaluation",
)


def can_view_dashboard(user) -> bool:
    return user.is_active and user.is_staff and user.has_perms(DASHBOARD_PERMISSIONS)


def can_run_jury(user) -> bool:
    return can_view_dashboard(user) and user.has_perm("candidatures.change_appel")


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count <= 1 else plural}"


def _staff_users():
    """Who may sit on a jury: active staff accounts (jurors sign in to the admin) in the
    « Jury » group (the group carries the jurors' permissions)."""
    return (
        get_user_model()
        .objects.filter(is_staff=True, is_active=True, groups__name=roles.JURY)
        .distinct()
        .order_by("email")
    )


def _user_choice_label(user) -> str:
    return person(user)


# ---------------------------------------------------------------------------------------------
# Exports


def csv_response(headers: list[str], rows: list[list], filename: str) -> HttpResponse:
    """The rows as ``cerdd_ami.spreadsheets.csv_lines`` writes them, in one response (small
    tables)."""
    response = HttpResponse(
        "".join(csv_lines(headers, rows)).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _fr_number(value, digits: int = 2) -> str:
    """As ``floatformat`` writes it in French, for a fraction of its cost."""
    return EMPTY if value is None else charts.fr_number(value, digits)


def ranking_rows_html(rows) -> tuple[str, str]:
    """The ``<tr>`` of the ranking table (what decides: rank, dossier, weighted mean,
    disagreement and its reason) and of its detail table (median, spread, z-score, critères,
    recommendations), shown on demand. Built here rather than in the template: 500 dossiers
    × 20 cells through template tags and ``floatformat`` took most of the page's time."""
    main, detail = [], []
    for row in rows:
        if row.n:
            mean = f"<strong>{_fr_number(row.mean)}</strong>"
            figures = [
                _fr_number(row.median),
                _fr_number(row.stdev),
                f"{_fr_number(row.min)} – {_fr_number(row.max)}",
                _fr_number(row.z_mean),
            ]
        else:
            mean = EMPTY
            figures = [EMPTY] * 4
        figures += [_fr_number(value) for value in row.critere_means]
        figures += [str(count) for _, _, count in row.tally_items]
        reason = (
            format_html('<span class="flag">⚠ Désaccord</span> : {}', row.disagreement_reason)
            if row.disagreement
            else ""
        )
        css = mark_safe(' class="desaccord"') if row.disagreement else ""
        dossier = format_html(
            '<th scope="row" class="dossier">{}</th><td>{}</td>',
            row.dossier.numero,
            row.dossier.collectivite,
        )
        main.append(
            format_html(
                '<tr{}><td class="num">{}</td><td class="num">{}</td>{}<td class="num">{}</td>'
                # The mean is a number formatted above in a <strong> of ours: nothing to escape.
                '<td class="num">{}</td><td class="reason">{}</td></tr>',
                css,
                row.rank or EMPTY,
                row.rank_z or EMPTY,
                dossier,
                row.n,
                mark_safe(mean),
                reason,
            )
        )
        detail.append(
            format_html('<tr{}><td class="num">{}</td>{}', css, row.rank or EMPTY, dossier)
            # Figures are numbers formatted above: nothing to escape.
            + "".join(f'<td class="num">{figure}</td>' for figure in figures)
            + "</tr>"
        )
    return mark_safe("\n".join(main)), mark_safe("\n".join(detail))


# ---------------------------------------------------------------------------------------------
# The call, with its jury settings, members and dashboard


class MembreJuryForm(forms.ModelForm):
    class Meta:
        model = MembreJury
        fields = ["user", "qualite", "collectivite"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "user" in self.fields:
            field = self.fields["user"]
            field.queryset = _staff_users()
            field.label_from_instance = _user_choice_label
            field.label = "juré·e"
            field.help_text = "Un compte de l'équipe (accès à l'administration), groupe « Jury »."


class MembreJuryInline(admin.TabularInline):
    model = MembreJury
    form = MembreJuryForm
    fields = ["user", "qualite", "collectivite"]
    autocomplete_fields = ["collectivite"]
    extra = 0
    verbose_name_plural = (
        "membres du jury (la collectivité d'appartenance sert à détecter les conflits d'intérêts)"
    )


class AppelJuryAdmin(AppelAdmin):
    fieldsets = [
        *AppelAdmin.fieldsets,
        (
            "Jury",
            {
                "description": (
                    "Le suivi des évaluations, le classement, les exports et le procès-verbal "
                    "sont accessibles par les boutons « Suivi du jury » et « Classement » en "
                    "haut de cette page."
                ),
                "fields": [
                    "mode_jury",
                    "jures_par_dossier",
                    "seuil_desaccord",
                    "notation_close_at",
                    "deliberation_ouverte_at",
                ],
            },
        ),
    ]
    readonly_fields = [*AppelAdmin.readonly_fields, "notation_close_at", "deliberation_ouverte_at"]
    inlines = [*AppelAdmin.inlines, MembreJuryInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "jury_dashboard": can_view_dashboard(request.user),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<int:pk>/jury/", wrap(self.jury_view), name=f"{name}_jury"),
            path("<int:pk>/classement/", wrap(self.classement_view), name=f"{name}_classement"),
            path(
                "<int:pk>/classement.xlsx",
                wrap(self.classement_xlsx),
                name=f"{name}_classement_xlsx",
            ),
            path(
                "<int:pk>/classement.csv", wrap(self.classement_csv), name=f"{name}_classement_csv"
            ),
            path("<int:pk>/notes.xlsx", wrap(self.notes_xlsx), name=f"{name}_notes_xlsx"),
            path("<int:pk>/notes.csv", wrap(self.notes_csv), name=f"{name}_notes_csv"),
            path(
                "<int:pk>/proces-verbal.pdf",
                wrap(self.proces_verbal),
                name=f"{name}_proces_verbal",
            ),
            *super().get_urls(),
        ]

    # -- shared -------------------------------------------------------------------------------

    def _appel(self, request, pk) -> Appel:
        if not can_view_dashboard(request.user):
            raise PermissionDenied
        return get_object_or_404(Appel, pk=pk)

    def _context(self, request, appel, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "subtitle": appel.titre,
            "appel": appel,
            "original": appel,
            "can_run_jury": can_run_jury(request.user),
            **extra,
        }

    # -- progress and actions -------------------------------------------------------------------

    JURY_ACTIONS = {
        "rappels": "_send_reminders",
        "affecter": "_assign",
        "conflits": "_refresh_conflicts",
        "clore": "_close",
        "rouvrir": "_reopen",
        "deliberation": "_open_deliberation",
    }

    def jury_view(self, request, pk):
        appel = self._appel(request, pk)
        if request.method == "POST":
            if not can_run_jury(request.user):
                raise PermissionDenied
            handler = self.JURY_ACTIONS.get(request.POST.get("action", ""))
            if handler is None:
                self.message_user(request, "Action inconnue.", messages.ERROR)
            else:
                try:
                    getattr(self, handler)(request, appel)
                except ValidationError as error:
                    self.message_user(request, " ".join(error.messages), messages.ERROR)
            return redirect("admin:candidatures_appel_jury", appel.pk)
        matrix = ranking.progress_matrix(appel)
        context = self._context(
            request,
            appel,
            "Suivi du jury",
            matrix=matrix,
            scoring_open=appel.scoring_is_open(),
            deadline_passed=timezone.now() > appel.closes_at,
            closed_at=paris(appel.notation_close_at) if appel.notation_close_at else "",
            deliberation_at=(
                paris(appel.deliberation_ouverte_at) if appel.deliberation_ouverte_at else ""
            ),
            affectation=appel.mode_jury == Appel.ModeJury.AFFECTATION,
        )
        return TemplateResponse(request, "admin/candidatures/appel/jury.html", context)

    def _send_reminders(self, request, appel):
        reminded = jury_services.send_jury_reminders(appel=appel, staff_user=request.user)
        if reminded:
            self.message_user(
                request,
                f"Rappel envoyé à {_plural(reminded, 'juré·e', 'juré·es')} qui "
                f"{'a' if reminded == 1 else 'ont'} encore des dossiers à évaluer.",
                messages.SUCCESS,
            )
        else:
            self.message_user(
                request,
                "Aucun·e juré·e n'a de dossier en attente : aucun rappel envoyé.",
                messages.INFO,
            )

    def _assign(self, request, appel):
        if appel.mode_jury != Appel.ModeJury.AFFECTATION:
            raise ValidationError(
                "Cet appel fait évaluer chaque dossier par chaque juré·e : choisissez "
                "« Chaque dossier est affecté à quelques juré·es » dans la fiche de l'appel "
                "avant d'affecter les dossiers."
            )
        result = jury_services.assign_automatically(appel=appel, staff_user=request.user)
        created = result["created"]
        self.message_user(
            request,
            f"{_plural(created, 'affectation créée', 'affectations créées')} "
            f"({appel.jures_par_dossier} juré·es par dossier, charge équilibrée, "
            "jamais un·e juré·e en conflit d'intérêts).",
            messages.SUCCESS,
        )
        if result["short"]:
            names = ", ".join(dossier.numero for dossier in result["short"])
            self.message_user(
                request,
                f"Pas assez de juré·es sans conflit d'intérêts pour : {names}.",
                messages.WARNING,
            )

    def _refresh_conflicts(self, request, appel):
        created = jury_services.refresh_conflicts(appel=appel)
        self.message_user(
            request,
            f"Registre des conflits d'intérêts à jour : "
            f"{_plural(created, 'conflit détecté ajouté', 'conflits détectés ajoutés')}.",
            messages.SUCCESS,
        )

    def _close(self, request, appel):
        jury_services.close_scoring(appel=appel, staff_user=request.user)
        self.message_user(
            request,
            "La notation est close : les évaluations ne peuvent plus être modifiées.",
            messages.SUCCESS,
        )

    def _reopen(self, request, appel):
        jury_services.reopen_scoring(appel=appel, staff_user=request.user)
        self.message_user(
            request,
            "La notation est rouverte : les juré·es peuvent de nouveau modifier leurs évaluations.",
            messages.SUCCESS,
        )

    def _open_deliberation(self, request, appel):
        jury_services.open_deliberation(appel=appel, staff_user=request.user)
        self.message_user(
            request,
            "La délibération est ouverte : sur chaque dossier qu'ils et elles peuvent voir, "
            "les juré·es voient désormais les évaluations de leurs collègues (le classement "
            "reste réservé à l'équipe du Cerdd).",
            messages.SUCCESS,
        )

    # -- ranking and charts ---------------------------------------------------------------------

    def classement_view(self, request, pk):
        appel = self._appel(request, pk)
        result = ranking.build_ranking(appel)
        by_z = request.GET.get("tri") == "z"
        rows = result.rows_by_z if by_z else result.rows
        main_rows, detail_rows = ranking_rows_html(rows)
        distributions = [
            (item, charts.distribution_svg(item, f"graphique-critere-{item.critere.pk}"))
            for item in result.distributions
        ]
        context = self._context(
            request,
            appel,
            "Classement du jury",
            ranking=result,
            rows=rows,
            rows_html=main_rows,
            detail_rows_html=detail_rows,
            # Rang, rang z, dossier, collectivité, éval., moyenne, désaccord.
            column_count=7,
            by_z=by_z,
            ranking_chart=charts.ranking_svg(rows, "graphique-classement", by_z=by_z),
            calibration_chart=charts.calibration_svg(
                result.calibration, result.overall_mean, "graphique-calibration"
            ),
            distributions=distributions,
        )
        return TemplateResponse(request, "admin/candidatures/appel/classement.html", context)

    # -- exports --------------------------------------------------------------------------------

    def classement_xlsx(self, request, pk):
        appel = self._appel(request, pk)
        headers, rows = ranking.ranking_table(ranking.build_ranking(appel))
        return to_xlsx_response(
            headers,
            rows,
            export_filename("classement", appel.slug, extension="xlsx"),
            sheet_title="Classement",
        )

    def classement_csv(self, request, pk):
        appel = self._appel(request, pk)
        headers, rows = ranking.ranking_table(ranking.build_ranking(appel))
        return csv_response(
            headers, rows, export_filename("classement", appel.slug, extension="csv")
        )

    def notes_xlsx(self, request, pk):
        appel = self._appel(request, pk)
        headers, rows = ranking.scores_table(appel)
        return to_xlsx_response(
            headers,
            rows,
            export_filename("notes", appel.slug, extension="xlsx"),
            sheet_title="Notes",
        )

    def notes_csv(self, request, pk):
        appel = self._appel(request, pk)
        headers, rows = ranking.scores_table(appel)
        return csv_response(headers, rows, export_filename("notes", appel.slug, extension="csv"))

    # -- procès-verbal --------------------------------------------------------------------------

    def proces_verbal(self, request, pk):
        appel = self._appel(request, pk)
        html = render_proces_verbal_html(appel)
        pdf = pdf_from_html(html, base_url=str(settings.BASE_DIR / "static"))
        return pdf_response(pdf, f"proces-verbal-{appel.slug}.pdf")


def proces_verbal_context(appel, now=None) -> dict:
    """What ``templates/pdf/proces_verbal.html`` shows: the grid, the jury, the ranking with
    its recommendations, the conflicts and recusals (the register, plus ties detected but not
    recorded yet), and the date."""
    now = now or timezone.now()
    result = ranking.build_ranking(appel)
    conflicts = ranking.conflict_register(appel)
    recorded = {(c["numero"], c["jure"]) for c in conflicts}
    for dossier, user, reason in jury_services.related_pairs(appel):
        key = (dossier.numero, ranking.display_name(user.first_name, user.last_name, user.email))
        if key not in recorded:
            conflicts.append(
                {
                    "numero": dossier.numero,
                    "collectivite": dossier.collectivite.nom,
                    "jure": key[1],
                    "origine": ConflitInteret.Origine.DETECTE,
                    "origine_label": "Détecté (pas encore inscrit au registre)",
                    "motif": reason,
                    "created_at": None,
                }
            )
    conflicts.sort(key=lambda c: (c["numero"], c["jure"]))
    for conflict in conflicts:
        conflict["date"] = format_date_fr(conflict["created_at"]) if conflict["created_at"] else ""
    counted_by_juror = {item.juror.pk: item.n for item in result.calibration}
    return {
        "appel": appel,
        "ranking": result,
        "jurors": [
            {"juror": item.juror, "n": counted_by_juror.get(item.juror.pk, 0)}
            for item in result.calibration
        ],
        "conflicts": conflicts,
        "mode": Appel.ModeJury(appel.mode_jury).label,
        "seuil": ranking.format_fr(float(appel.seuil_desaccord), 1),
        "date": format_date_fr(now),
        "closes": format_datetime_fr(appel.closes_at),
        "notation_close": format_datetime_fr(appel.notation_close_at)
        if appel.notation_close_at
        else "",
        "deliberation": format_datetime_fr(appel.deliberation_ouverte_at)
        if appel.deliberation_ouverte_at
        else "",
        "deposees": len(result.rows),
    }


def render_proces_verbal_html(appel, now=None) -> str:
    with translation.override("fr"):
        return render_to_string("pdf/proces_verbal.html", proces_verbal_context(appel, now))


admin.site.unregister(Appel)
admin.site.register(Appel, AppelJuryAdmin)


# ---------------------------------------------------------------------------------------------
# Jury members and assignments


@admin.register(MembreJury)
class MembreJuryAdmin(admin.ModelAdmin):
    form = MembreJuryForm
    list_display = ["juror_name", "juror_email", "appel", "qualite", "collectivite"]
    list_filter = ["appel"]
    list_select_related = ["appel", "user", "collectivite"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "qualite"]
    autocomplete_fields = ["collectivite"]
    fields = ["appel", "user", "qualite", "collectivite"]

    @admin.display(description="juré·e", ordering="user__last_name")
    def juror_name(self, obj):
        return obj.user.get_full_name() or obj.user.email

    @admin.display(description="e-mail", ordering="user__email")
    def juror_email(self, obj):
        return obj.user.email


class AffectationForm(forms.ModelForm):
    """A manual assignment: the juror must sit on the dossier's jury and not be in conflict
    with it (registered, or detected from their collectivité)."""

    class Meta:
        model = Affectation
        fields = ["candidature", "jure"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["jure"].queryset = _staff_users()
        self.fields["jure"].label_from_instance = _user_choice_label
        self.fields["jure"].label = "juré·e"

    def clean(self):
        cleaned = super().clean()
        candidature, jure = cleaned.get("candidature"), cleaned.get("jure")
        if candidature is None or jure is None:
            return cleaned
        if not candidature.est_deposee:
            raise ValidationError("Seuls les dossiers déposés peuvent être affectés.")
        member = (
            MembreJury.objects.filter(appel=candidature.appel_id, user=jure)
            .values_list("collectivite_id", "collectivite__epci_id")
            .first()
        )
        if member is None:
            raise ValidationError(
                "%(jure)s n'est pas membre du jury de cet appel.", params={"jure": person(jure)}
            )
        registered = ConflitInteret.objects.filter(candidature=candidature, jure=jure).exists()
        tie = member if member[0] else None
        dossier = (candidature.collectivite_id, candidature.collectivite.epci_id)
        if registered or ranking.is_tied(tie, dossier):
            raise ValidationError(
                "%(jure)s est en conflit d'intérêts avec ce dossier.", params={"jure": person(jure)}
            )
        return cleaned


@admin.register(Affectation)
class AffectationAdmin(admin.ModelAdmin):
    form = AffectationForm
    list_display = ["numero", "collectivite", "jure_display", "created_at"]
    list_filter = ["candidature__appel", ("jure", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["candidature__collectivite", "jure"]
    search_fields = [
        "candidature__numero",
        "candidature__collectivite__nom",
        "jure__email",
        "jure__last_name",
    ]
    autocomplete_fields = ["candidature"]
    ordering = ["candidature__numero", "jure__last_name"]

    @admin.display(description="dossier", ordering="candidature__numero")
    def numero(self, obj):
        return obj.candidature.numero

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="juré·e", ordering="jure__last_name")
    def jure_display(self, obj):
        return person(obj.jure)

    def has_change_permission(self, request, obj=None):
        # An assignment is a pair: to move a dossier, delete it and add another.
        return False if obj is not None else super().has_change_permission(request)

    def save_model(self, request, obj, form, change):
        (saved,) = jury_services.assign_jurors(
            candidature=obj.candidature, jures=[obj.jure], staff_user=request.user
        )
        obj.pk, obj.created_at = saved.pk, saved.created_at
        obj._state.adding = False


# ---------------------------------------------------------------------------------------------
# History pages that read like the rest of the admin


# ---------------------------------------------------------------------------------------------
# Conflicts register


class ConflitInteretForm(forms.ModelForm):
    class Meta:
        model = ConflitInteret
        fields = ["candidature", "jure", "motif"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "jure" in self.fields:
            self.fields["jure"].queryset = _staff_users()
            self.fields["jure"].label_from_instance = _user_choice_label
            self.fields["jure"].label = "juré·e"


@admin.register(ConflitInteret)
class ConflitInteretAdmin(HistoryAdmin):
    """The register: detected ties and recusals. Declared ones are the juror's word and stay
    as written; none is deleted here, since that would silently put scores back into the
    ranking (the history keeps who changed what anyway)."""

    form = ConflitInteretForm
    list_display = ["numero", "collectivite", "jure_display", "origine", "motif_court", "date"]
    list_filter = [
        "origine",
        "candidature__appel",
        ("jure", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    list_select_related = ["candidature__collectivite", "jure"]
    search_fields = [
        "candidature__numero",
        "candidature__collectivite__nom",
        "jure__email",
        "jure__last_name",
        "motif",
    ]
    autocomplete_fields = ["candidature"]
    ordering = ["candidature__numero", "jure__last_name"]
    date_hierarchy = "created_at"

    @admin.display(description="dossier", ordering="candidature__numero")
    def numero(self, obj):
        return obj.candidature.numero

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="juré·e", ordering="jure__last_name")
    def jure_display(self, obj):
        return person(obj.jure)

    @admin.display(description="motif")
    def motif_court(self, obj):
        return obj.motif if len(obj.motif) <= 120 else obj.motif[:119] + "…"

    @admin.display(description="enregistré le", ordering="created_at")
    def date(self, obj):
        return paris(obj.created_at)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["candidature", "jure", "motif"]
        return ["dossier_detail", "jure_display", "origine", "motif", "date"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        readonly = ["dossier_detail", "jure_display", "origine", "date"]
        if obj.origine == ConflitInteret.Origine.DECLARE:
            readonly.append("motif")
        return readonly

    @admin.display(description="dossier")
    def dossier_detail(self, obj):
        return f"{obj.candidature.numero} — {obj.candidature.collectivite.nom}"

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.origine == ConflitInteret.Origine.DECLARE:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "candidature":
            kwargs["queryset"] = Candidature.objects.deposees()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            # Recorded by staff on the juror's word (a phone call, an e-mail): a recusal.
            obj.origine = ConflitInteret.Origine.DECLARE
        super().save_model(request, obj, form, change)


# ---------------------------------------------------------------------------------------------
# Évaluations, read-only, with their history


class PriseEnCompteFilter(admin.SimpleListFilter):
    title = "prise en compte dans le classement"
    parameter_name = "prise_en_compte"

    def lookups(self, request, model_admin):
        return [
            ("oui", "Oui"),
            ("conflit", "Non : conflit d'intérêts"),
            ("brouillon", "Non : brouillon"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "oui":
            return queryset.filter(statut=Evaluation.Statut.SOUMISE, en_conflit=False)
        if self.value() == "conflit":
            return queryset.filter(en_conflit=True)
        if self.value() == "brouillon":
            return queryset.filter(statut=Evaluation.Statut.BROUILLON, en_conflit=False)
        return queryset


@admin.register(Evaluation)
class EvaluationAdmin(ReadOnlyAdminMixin, HistoryAdmin):
    """Staff read évaluations (never change them: they are the jurors' own); the « Historique »
    page shows who changed what and when, before and after."""

    list_display = [
        "numero",
        "collectivite",
        "jure_display",
        "statut",
        "recommandation",
        "score",
        "prise_en_compte",
        "submitted_display",
    ]
    list_filter = [
        "candidature__appel",
        "statut",
        "recommandation",
        PriseEnCompteFilter,
        ("jure", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["candidature__collectivite", "jure"]
    search_fields = [
        "candidature__numero",
        "candidature__collectivite__nom",
        "jure__email",
        "jure__last_name",
    ]
    ordering = ["candidature__numero", "jure__last_name"]
    fields = [
        "dossier_detail",
        "jure_display",
        "statut",
        "recommandation",
        "score",
        "prise_en_compte",
        "notes_detail",
        "commentaire_prive",
        "retour_collectivite",
        "created_display",
        "updated_display",
        "submitted_display",
        "historique_notes",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        conflict = ConflitInteret.objects.filter(
            candidature=OuterRef("candidature"), jure=OuterRef("jure")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(en_conflit=Exists(conflict))
            .prefetch_related(
                Prefetch("notes", queryset=Note.objects.select_related("critere").order_by())
            )
        )

    def has_view_permission(self, request, obj=None):
        # Jurors may hold view_evaluation for their own pages; the full list is staff's only.
        return super().has_view_permission(request, obj) and request.user.has_perm(
            "candidatures.view_candidature"
        )

    @admin.display(description="dossier", ordering="candidature__numero")
    def numero(self, obj):
        return obj.candidature.numero

    @admin.display(description="collectivité", ordering="candidature__collectivite__nom")
    def collectivite(self, obj):
        return obj.candidature.collectivite.nom

    @admin.display(description="dossier")
    def dossier_detail(self, obj):
        return f"{obj.candidature.numero} — {obj.candidature.collectivite.nom}"

    @admin.display(description="juré·e", ordering="jure__last_name")
    def jure_display(self, obj):
        return person(obj.jure)

    @admin.display(description="score pondéré (/20)")
    def score(self, obj):
        notes = list(obj.notes.all())
        value = ranking.evaluation_score(
            {note.critere_id: note.valeur for note in notes}, [note.critere for note in notes]
        )
        return EMPTY if value is None else f"{value:.2f}".replace(".", ",")

    @admin.display(description="prise en compte")
    def prise_en_compte(self, obj):
        if getattr(obj, "en_conflit", False):
            return "Non : conflit d'intérêts"
        if obj.statut != Evaluation.Statut.SOUMISE:
            return "Non : brouillon"
        return "Oui"

    @admin.display(description="soumise le", ordering="submitted_at")
    def submitted_display(self, obj):
        return paris(obj.submitted_at)

    @admin.display(description="créée le")
    def created_display(self, obj):
        return paris(obj.created_at)

    @admin.display(description="modifiée le")
    def updated_display(self, obj):
        return paris(obj.updated_at)

    @admin.display(description="notes")
    def notes_detail(self, obj):
        notes = sorted(obj.notes.all(), key=lambda note: note.critere.ordre)
        if not notes:
            return EMPTY
        return format_html(
            "<table><thead><tr><th>Critère</th><th>Note</th><th>Commentaire</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (
                        note.critere.libelle,
                        EMPTY
                        if note.valeur is None
                        else f"{note.valeur} / {note.critere.note_max}",
                        note.commentaire or EMPTY,
                    )
                    for note in notes
                ),
            ),
        )

    @admin.display(description="historique des notes")
    def historique_notes(self, obj):
        records = list(
            Note.history.filter(evaluation_id=obj.pk)
            .select_related("history_user", "critere")
            .order_by("history_date", "history_id")
        )
        previous: dict[int, tuple | None] = defaultdict(lambda: None)
        kinds = {"+": "création", "~": "modification", "-": "suppression"}
        lines = []
        for record in records:
            before, now = previous[record.id], (record.valeur, record.commentaire)
            previous[record.id] = now
            # Every save of the form re-saves each note: keep the ones that changed something.
            if record.history_type == "~" and before == now:
                continue
            kind = kinds.get(record.history_type, record.history_type)
            if record.history_type == "~" and before and before[0] == now[0]:
                kind = "commentaire modifié"
            elif record.history_type == "~" and before and before[1] != now[1]:
                kind = "note et commentaire modifiés"
            # The comment's before/after only when it changed (or the note was created).
            comment_changed = before is None or before[1] != now[1]
            lines.append(
                (
                    paris(record.history_date),
                    person(record.history_user) if record.history_user_id else EMPTY,
                    record.critere.libelle,
                    kind,
                    EMPTY if before is None or before[0] is None else before[0],
                    EMPTY if record.valeur is None else record.valeur,
                    ((before[1] if before else "") or EMPTY) if comment_changed else "inchangé",
                    (record.commentaire or EMPTY) if comment_changed else "inchangé",
                )
            )
        if not lines:
            return EMPTY
        return format_html(
            "<table><thead><tr><th>Date</th><th>Par</th><th>Critère</th><th>Changement</th>"
            "<th>Note avant</th><th>Note après</th><th>Commentaire avant</th>"
            "<th>Commentaire après</th></tr></thead><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                "<td>{}</td><td>{}</td></tr>",
                reversed(lines),
            ),
        )
