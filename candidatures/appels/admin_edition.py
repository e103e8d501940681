"""« Préparer l'édition suivante » in the call's admin: a button on the call's page, an action
of the list (for one call), both leading to one confirmation page that calls
``services.prepare_next_edition``.

``NextEditionAppelAdminMixin`` goes before the call's base admin in the composition root
(candidatures/admin.py); its action is added to the subclass's at class creation.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path

from cerdd_ami.formats import format_date_fr, format_datetime_fr

from . import services
from .forms import NextEditionForm
from .models import Appel

ACTION = "preparer_edition_suivante"
DATES = [
    ("opens_at", "Ouverture"),
    ("closes_at", "Date limite de dépôt"),
    ("announcement_at", "Réponse aux collectivités"),
    ("first_session_date", "Première journée du cycle"),
]


def _format(value) -> str:
    if value is None:
        return "—"
    if hasattr(value, "tzinfo"):
        return format_datetime_fr(value, seconds=value.second != 0)
    return format_date_fr(value)


def date_rows(appel: Appel, offset: services.EditionOffset) -> list[tuple[str, str, str]]:
    """(label, the call's date, the next edition's) for the confirmation page."""
    rows = []
    for name, label in DATES:
        value = getattr(appel, name)
        rows.append((label, _format(value), _format(offset.shift(value))))
    return rows


class NextEditionAppelAdminMixin:
    """The call's « Préparer l'édition suivante »; staff who may add calls see it."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        actions = list(cls.actions or [])
        if ACTION not in actions:
            cls.actions = [*actions, ACTION]

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<int:pk>/edition-suivante/",
                self.admin_site.admin_view(self.next_edition_view),
                name=f"{name}_edition_suivante",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_prepare_next_edition": self.has_add_permission(request),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Préparer l'édition suivante", permissions=["add"])
    def preparer_edition_suivante(self, request, queryset):
        appels = list(queryset[:2])
        if len(appels) != 1:
            self.message_user(
                request,
                "Sélectionnez un seul appel : l'édition suivante se prépare à partir de l'un "
                "d'eux.",
                messages.ERROR,
            )
            return None
        return redirect(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_edition_suivante", appels[0].pk
        )

    def next_edition_view(self, request, pk):
        if not self.has_add_permission(request):
            raise PermissionDenied
        source = get_object_or_404(Appel.objects.all(), pk=pk)
        offset = services.EditionOffset()
        if request.method == "POST":
            form = NextEditionForm(request.POST)
            if form.is_valid():
                offset = services.EditionOffset(
                    months=form.cleaned_data["offset_months"], days=form.cleaned_data["offset_days"]
                )
                if "preview" not in request.POST:
                    response = self._prepare(request, source, form)
                    if response is not None:
                        return response
        else:
            form = NextEditionForm(
                initial={
                    **services.propose_next_edition(source, offset),
                    "offset_months": offset.months,
                    "offset_days": offset.days,
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Préparer l'édition suivante",
            "subtitle": source.titre,
            "original": source,
            "source": source,
            "form": form,
            "offset": offset.describe(),
            "dates": date_rows(source, offset),
        }
        return TemplateResponse(request, "admin/candidatures/appel/edition_suivante.html", context)

    def _prepare(self, request, source, form):
        data = form.cleaned_data
        try:
            result = services.prepare_next_edition(
                source=source,
                staff_user=request.user,
                titre=data["titre"],
                slug=data["slug"],
                prefixe_numero=data["prefixe_numero"],
                offset_months=data["offset_months"],
                offset_days=data["offset_days"],
            )
        except ValidationError as error:
            if not hasattr(error, "error_dict"):
                form.add_error(None, error)
                return None
            for field, errors in error.message_dict.items():
                # Errors on a date or a rule of the call are the page's, not a field's.
                form.add_error(field if field in form.fields else None, errors)
            return None
        copied = ", ".join(["les textes, les dates et les contacts", *result.copied])
        if result.appel.signature:
            copied += ", la signature"
        self.message_user(
            request,
            f"L'appel « {result.appel} » est prêt ({copied}). Il n'est pas publié : relisez-le, "
            "puis cochez « publié sur le site ».",
            messages.SUCCESS,
        )
        for warning in result.warnings:
            self.message_user(request, warning, messages.WARNING)
        return redirect(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", result.appel.pk
        )
