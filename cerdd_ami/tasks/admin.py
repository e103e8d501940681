from django.contrib import admin, messages
from django.tasks import TaskResultStatus
from django.utils.html import format_html

from cerdd_ami.admin import ReadOnlyAdminMixin
from cerdd_ami.formats import format_datetime_fr

from . import LABELS, services
from .models import Tache


class StatusFilter(admin.SimpleListFilter):
    title = "état"
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return [
            ("attente", "En attente"),
            ("cours", "En cours"),
            ("essai", "Nouvel essai prévu"),
            ("echec", "En échec"),
            ("terminee", "Terminée"),
        ]

    def queryset(self, request, queryset):
        match self.value():
            case "attente":
                return queryset.filter(status=TaskResultStatus.READY, exception_class_path="")
            case "cours":
                return queryset.filter(status=TaskResultStatus.RUNNING)
            case "essai":
                return queryset.awaiting_retry()
            case "echec":
                return queryset.filter(status=TaskResultStatus.FAILED)
            case "terminee":
                return queryset.filter(status=TaskResultStatus.SUCCESSFUL)
        return queryset


class TaskNameFilter(admin.SimpleListFilter):
    title = "tâche"
    parameter_name = "tache"

    def lookups(self, request, model_admin):
        # Every task the queue holds, also those whose module this process never imported.
        paths = Tache.objects.order_by().values_list("task_path", flat=True).distinct()
        labels = {path: Tache(task_path=path).label for path in {*paths, *LABELS}}
        return sorted(labels.items(), key=lambda item: item[1])

    def queryset(self, request, queryset):
        return queryset.filter(task_path=self.value()) if self.value() else queryset


@admin.register(Tache)
class TacheAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Queue, running, failed: what the worker does, and « Relancer » for what failed."""

    list_display = ["tache", "etat", "tentatives", "prevue", "debut", "fin", "erreur"]
    list_filter = [StatusFilter, TaskNameFilter]
    ordering = ["-enqueued_at"]
    actions = ["relancer"]
    fields = ["tache", "etat", "tentatives", "prevue", "debut", "fin", "arguments", "trace"]
    readonly_fields = fields
    list_per_page = 50
    keeps_list_actions = True  # « Relancer »

    @admin.display(description="tâche")
    def tache(self, obj):
        return obj.label

    @admin.display(description="état")
    def etat(self, obj):
        return obj.state_label

    @admin.display(description="tentatives")
    def tentatives(self, obj):
        return obj.attempts

    @admin.display(description="prévue le")
    def prevue(self, obj):
        return format_datetime_fr(obj.due_at) if obj.due_at else "dès que possible"

    @admin.display(description="début")
    def debut(self, obj):
        return format_datetime_fr(obj.started_at) if obj.started_at else "—"

    @admin.display(description="fin")
    def fin(self, obj):
        return format_datetime_fr(obj.finished_at) if obj.finished_at else "—"

    @admin.display(description="dernière erreur")
    def erreur(self, obj):
        return obj.error_summary or "—"

    @admin.display(description="arguments")
    def arguments(self, obj):
        return format_html("<pre>{}</pre>", obj.args_kwargs)

    @admin.display(description="trace de la dernière erreur")
    def trace(self, obj):
        return format_html("<pre>{}</pre>", obj.traceback) if obj.traceback else "—"

    @admin.action(description="Relancer les tâches sélectionnées", permissions=["change"])
    def relancer(self, request, queryset):
        count = services.relaunch(task_ids=list(queryset.values_list("pk", flat=True)))
        skipped = queryset.count() - count
        if count:
            self.message_user(request, f"{count} tâche(s) relancée(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} tâche(s) ignorée(s) : terminée(s) ou en cours.",
                messages.WARNING,
            )
