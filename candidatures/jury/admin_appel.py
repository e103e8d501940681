"""The call's jury pages in the admin: progress, ranking, calibration, charts, exports, PV.

``JuryAppelAdminMixin`` adds to the call's admin its jury settings, its members inline and the
dashboard URLs below; the composition root ``candidatures/admin.py`` puts it before the call's
base admin. Every state change goes through
``candidatures.jury.services``; the numbers come from ``candidatures.jury.ranking``.

Who sees what: the dashboard needs the view permissions on appels, candidatures and
évaluations (the chargé·e de mission has them; jurors never hold ``view_candidature``, which
is what ``readable_by`` tells them apart by); its actions also need ``change_appel``.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from candidatures.appels.models import Appel
from candidatures.dossiers.admin import paris, person
from candidatures.jury import charts, proces_verbal, progress, ranking, tables
from candidatures.jury import services as jury_services
from cerdd_ami import roles
from cerdd_ami.admin import EMPTY
from cerdd_ami.pdf import pdf_response
from cerdd_ami.spreadsheets import csv_lines, export_filename, to_xlsx_response

from .models import MembreJury

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


JURY_FIELDSET = (
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
)


JURY_READONLY_FIELDS = ["notation_close_at", "deliberation_ouverte_at"]


class JuryAppelAdminMixin:
    """The jury's part of the call's admin; put it before the base ``ModelAdmin`` of Appel.

    The subclass's fieldsets, read-only fields and inlines get the jury's at class creation
    (``__init_subclass__``), so the registered class holds plain lists Django's checks read.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if JURY_FIELDSET not in cls.fieldsets:
            cls.fieldsets = [*cls.fieldsets, JURY_FIELDSET]
        cls.readonly_fields = [
            *cls.readonly_fields,
            *(f for f in JURY_READONLY_FIELDS if f not in cls.readonly_fields),
        ]
        if MembreJuryInline not in cls.inlines:
            cls.inlines = [*cls.inlines, MembreJuryInline]

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
        matrix = progress.progress_matrix(appel)
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
        headers, rows = tables.ranking_table(ranking.build_ranking(appel))
        return to_xlsx_response(
            headers,
            rows,
            export_filename("classement", appel.slug, extension="xlsx"),
            sheet_title="Classement",
        )

    def classement_csv(self, request, pk):
        appel = self._appel(request, pk)
        headers, rows = tables.ranking_table(ranking.build_ranking(appel))
        return csv_response(
            headers, rows, export_filename("classement", appel.slug, extension="csv")
        )

    def notes_xlsx(self, request, pk):
        appel = self._appel(request, pk)
        headers, rows = tables.scores_table(appel)
        return to_xlsx_response(
            headers,
            rows,
            export_filename("notes", appel.slug, extension="xlsx"),
            sheet_title="Notes",
        )

    def notes_csv(self, request, pk):
        appel = self._appel(request, pk)
        headers, rows = tables.scores_table(appel)
        return csv_response(headers, rows, export_filename("notes", appel.slug, extension="csv"))

    # -- procès-verbal --------------------------------------------------------------------------

    def proces_verbal(self, request, pk):
        appel = self._appel(request, pk)
        return pdf_response(
            proces_verbal.render_proces_verbal_pdf(appel), proces_verbal.filename(appel)
        )
