"""The decisions' mixins for the admins of the submitted dossiers and of the calls."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from candidatures.decisions import publication, scheduling
from candidatures.decisions import services as decisions_services
from candidatures.dossiers.admin import paris
from candidatures.jury import ranking
from cerdd_ami.formats import format_datetime_fr

from .admin import _plural, can_decide, issue_label
from .models import Decision, Issue

# ---------------------------------------------------------------------------------------------
# Submitted dossiers: decision column, filter and bulk decisions


class DecisionBulkForm(forms.Form):
    motivation = forms.CharField(
        label="Motivation",
        required=False,
        help_text="La même pour chaque dossier sélectionné ; elle figure dans le courrier.",
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
    )

    def __init__(self, *args, issue, **kwargs):
        super().__init__(*args, **kwargs)
        self.issue = issue

    def clean_motivation(self):
        motivation = self.cleaned_data["motivation"].strip()
        if self.issue != Issue.RETENUE and not motivation:
            raise ValidationError(
                "Indiquez la motivation : elle figure dans le courrier "
                f"« {Issue(self.issue).label.lower()} »."
            )
        return motivation


class DecisionStateFilter(admin.SimpleListFilter):
    title = "décision"
    parameter_name = "decision"

    def lookups(self, request, model_admin):
        return [("aucune", "Sans décision"), *Issue.choices]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "aucune":
            return queryset.filter(decision__isnull=True)
        if value in Issue.values:
            return queryset.filter(decision__issue=value)
        return queryset


def _insert_after_first(fieldsets, extra):
    return [fieldsets[0], extra, *fieldsets[1:]]


DECISION_FIELDSET = ("Décision", {"fields": ["decision_detail"]})
BULK_DECISIONS = ["decider_retenue", "decider_liste_attente", "decider_non_retenue"]


class DecisionsCandidatureAdminMixin:
    """The decisions' part of the submitted dossiers' admin: each dossier's decision, a filter
    and the bulk decisions; put it before the base ``ModelAdmin`` of Candidature.

    The subclass's list filters, actions and fieldsets get the decisions' at class creation.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if DecisionStateFilter not in cls.list_filter:
            cls.list_filter = [*cls.list_filter, DecisionStateFilter]
        actions = list(cls.actions or [])
        cls.actions = [*actions, *(a for a in BULK_DECISIONS if a not in actions)]
        if DECISION_FIELDSET not in cls.fieldsets:
            cls.fieldsets = _insert_after_first(cls.fieldsets, DECISION_FIELDSET)

    def has_decide_permission(self, request):
        return can_decide(request.user)

    @admin.display(description="décision")
    def decision_detail(self, obj):
        decision = Decision.objects.filter(candidature=obj).first()
        if decision is None:
            url = reverse("admin:candidatures_decision_add")
            return format_html(
                'Pas encore de décision. <a href="{}?candidature={}">Décider</a>', url, obj.pk
            )
        url = reverse("admin:candidatures_decision_change", args=[decision.pk])
        state = (
            f"publiée le {paris(decision.published_at)}"
            if decision.published_at
            else "pas encore publiée"
        )
        return format_html('<a href="{}">{}</a> ({})', url, issue_label(decision), state)

    @admin.action(description="Décider : retenue", permissions=["decide"])
    def decider_retenue(self, request, queryset):
        return self._decide(request, queryset, Issue.RETENUE, "decider_retenue")

    @admin.action(description="Décider : liste d'attente", permissions=["decide"])
    def decider_liste_attente(self, request, queryset):
        return self._decide(request, queryset, Issue.LISTE_ATTENTE, "decider_liste_attente")

    @admin.action(description="Décider : non retenue", permissions=["decide"])
    def decider_non_retenue(self, request, queryset):
        return self._decide(request, queryset, Issue.NON_RETENUE, "decider_non_retenue")

    def _decide(self, request, queryset, issue, action_name):
        dossiers = list(queryset.select_related("appel", "collectivite", "decision"))
        appels = {dossier.appel_id for dossier in dossiers}
        if len(appels) != 1:
            self.message_user(
                request, "Sélectionnez les dossiers d'un seul appel à la fois.", messages.ERROR
            )
            return None
        appel = dossiers[0].appel
        # Best ranked first: on the waiting list, the selection gets its ranks in this order.
        result = ranking.build_ranking(appel)
        rows = {row.dossier.pk: row for row in result.rows}
        order = {row.dossier.pk: position for position, row in enumerate(result.rows)}
        dossiers.sort(key=lambda d: (order.get(d.pk, len(order)), d.numero))

        form = DecisionBulkForm(
            request.POST if "apply" in request.POST else None,
            issue=issue,
            initial={"motivation": decisions_services.default_motivation(issue, appel)},
        )
        if form.is_valid():
            decided = 0
            for dossier in dossiers:
                existing = getattr(dossier, "decision", None)
                try:
                    decisions_services.decide(
                        candidature=dossier,
                        issue=issue,
                        motivation=form.cleaned_data["motivation"],
                        # The juror's feedback chosen one by one is kept.
                        retour_jury=existing.retour_jury if existing else "",
                        staff_user=request.user,
                    )
                except ValidationError as error:
                    self.message_user(
                        request,
                        f"{dossier.collectivite.nom} : {' '.join(error.messages)}",
                        messages.ERROR,
                    )
                else:
                    decided += 1
            if decided:
                self.message_user(
                    request,
                    f"Décision « {Issue(issue).label} » enregistrée pour "
                    f"{_plural(decided, 'dossier')}.",
                    messages.SUCCESS,
                )
            panel = decisions_services.capacity(appel)
            self.message_user(
                request,
                f"{panel.texte}. {panel.avertissement}".strip(),
                messages.WARNING if panel.depassement else messages.INFO,
            )
            return None

        panel = decisions_services.capacity(appel)
        retained_after = panel.retenues
        for dossier in dossiers:
            existing = getattr(dossier, "decision", None)
            was_retained = bool(
                existing and existing.issue == Issue.RETENUE and not existing.desistement_at
            )
            if issue == Issue.RETENUE and not was_retained:
                retained_after += 1
            elif issue != Issue.RETENUE and was_retained:
                retained_after -= 1
        context = {
            **self.admin_site.each_context(request),
            "title": f"Décider : {Issue(issue).label.lower()}",
            "opts": self.opts,
            "form": form,
            "issue_label": Issue(issue).label,
            "appel": appel,
            "panel": panel,
            "retained_after": retained_after,
            "over_capacity": retained_after > appel.places,
            "lignes": [
                {
                    "dossier": dossier,
                    "row": rows.get(dossier.pk),
                    "decision": getattr(dossier, "decision", None),
                }
                for dossier in dossiers
            ],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": action_name,
        }
        return TemplateResponse(request, "admin/candidatures/candidature/decider.html", context)


# ---------------------------------------------------------------------------------------------
# The call: « Publier les décisions »


APPEL_ACTIONS = ["publier_decisions", "programmer_publication", "annuler_programmation"]


class DecisionsAppelAdminMixin:
    """The decisions' part of the call's admin: « Publier les décisions », « Programmer la
    publication » and « Annuler la programmation », and a column saying when the decisions
    were or will be published; put it before the base ``ModelAdmin`` of Appel (its actions
    and column are added to the subclass's at class creation)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        actions = list(cls.actions or [])
        cls.actions = [*actions, *(a for a in APPEL_ACTIONS if a not in actions)]
        if "publication" not in cls.list_display:
            cls.list_display = [*cls.list_display, "publication"]

    @admin.display(description="publication des décisions")
    def publication(self, obj):
        if obj.decisions_published_at:
            return f"Publiées le {format_datetime_fr(obj.decisions_published_at)}"
        if obj.publication_programmee_at:
            return f"Publication programmée le {format_datetime_fr(obj.publication_programmee_at)}"
        return "—"

    def has_publish_permission(self, request):
        return request.user.has_perm("candidatures.change_decision")

    @admin.action(description="Publier les décisions", permissions=["publish"])
    def publier_decisions(self, request, queryset):
        appels = list(queryset.order_by("-opens_at"))
        if "apply" in request.POST:
            for appel in appels:
                self._publish(request, appel)
            return None
        now = timezone.now()
        context = {
            **self.admin_site.each_context(request),
            "title": "Publier les décisions",
            "opts": self.opts,
            "appels": [
                {
                    "appel": appel,
                    "panel": decisions_services.capacity(appel),
                    "trop_tot": now < appel.announcement_at,
                    "ouverture": format_datetime_fr(appel.announcement_at),
                }
                for appel in appels
            ],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "publier_decisions",
        }
        return TemplateResponse(request, "admin/candidatures/appel/publier_decisions.html", context)

    def _publish(self, request, appel):
        try:
            report = publication.publish_decisions_in_background(
                appel=appel, staff_user=request.user
            )
        except ValidationError as error:
            self.message_user(request, f"{appel} : {' '.join(error.messages)}", messages.ERROR)
            return
        self.message_user(
            request,
            f"{appel} : décisions publiées : {report.published}. Les courriers sont classés et "
            "envoyés par e-mail en tâche de fond : suivez-les dans « Envois de courrier » ; un "
            "envoi en échec est retenté, rien de ce qui est parti n'est renvoyé.",
            messages.SUCCESS,
        )

    @admin.action(description="Programmer la publication", permissions=["publish"])
    def programmer_publication(self, request, queryset):
        appels = list(queryset.order_by("-opens_at"))
        if "apply" in request.POST:
            for appel in appels:
                self._schedule(request, appel)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Programmer la publication",
            "opts": self.opts,
            "appels": [
                {
                    "appel": appel,
                    "panel": decisions_services.capacity(appel),
                    "date": format_datetime_fr(appel.announcement_at),
                }
                for appel in appels
            ],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action_name": "programmer_publication",
        }
        return TemplateResponse(
            request, "admin/candidatures/appel/programmer_publication.html", context
        )

    def _schedule(self, request, appel):
        try:
            when = scheduling.schedule_publication(appel=appel, staff_user=request.user)
        except ValidationError as error:
            self.message_user(request, f"{appel} : {' '.join(error.messages)}", messages.ERROR)
            return
        self.message_user(
            request,
            f"{appel} : publication programmée le {format_datetime_fr(when)} (heure de Paris). "
            "Elle se fera même si personne n'est connecté ; « Annuler la programmation » "
            "l'arrête jusque-là.",
            messages.SUCCESS,
        )
        undecided = decisions_services.capacity(appel).sans_decision
        if undecided:
            self.message_user(
                request,
                f"{appel} : {_plural(len(undecided), 'dossier déposé')} sans décision. Décidez "
                "de chaque dossier d'ici là, sinon la publication sera refusée.",
                messages.WARNING,
            )

    @admin.action(description="Annuler la programmation", permissions=["publish"])
    def annuler_programmation(self, request, queryset):
        for appel in queryset.order_by("-opens_at"):
            try:
                scheduling.cancel_scheduled_publication(appel=appel, staff_user=request.user)
            except ValidationError as error:
                self.message_user(request, f"{appel} : {' '.join(error.messages)}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{appel} : programmation de la publication annulée.", messages.SUCCESS
                )
