"""Admin pieces both apps share: the user admin, French history pages, read-only admins.

``HistoryAdmin`` shows django-simple-history's pages in French (choices by their label, dates
in Paris time, diffs in full). ``ReadOnlyAdminMixin`` is for rows that only a workflow writes
(logs, answers, sendings): staff read them, nobody adds, edits or deletes them here.
``DeletesStoredFilesMixin`` deletes the stored files of the rows a deletion removes. Admin list
actions that ask for a confirmation render ``admin/cerdd_ami/action_confirmation.html``.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.http import Http404
from django_tasks_db.models import DBTaskResult
from simple_history.admin import SimpleHistoryAdmin
from simple_history.template_utils import HistoricalRecordContextHelper, ObjDiffDisplay

from .files import delete_files_with
from .formats import format_datetime_fr
from .models import User

EMPTY = "—"


class DeletesStoredFilesMixin:
    """Deleting here (the page or the list's action) deletes, once committed, the stored files
    of every row the deletion removes, cascades included: no file outlives its row."""

    def delete_model(self, request, obj):
        with transaction.atomic(using=router.db_for_write(self.model)):
            delete_files_with([obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic(using=router.db_for_write(self.model)):
            delete_files_with(queryset)
            super().delete_queryset(request, queryset)


class ReadOnlyAdminMixin:
    """Nobody adds, edits or deletes these rows in the admin: a workflow writes them.

    With ``keeps_list_actions``, the change permission still holds without an object, where
    it governs the list's actions (an export, a bulk workflow), and the change page opens in
    view mode. Works for ModelAdmin and inlines alike (inlines pass ``obj`` when adding).
    """

    keeps_list_actions = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is None and self.keeps_list_actions:
            return super().has_change_permission(request)
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _LabelledChanges(HistoricalRecordContextHelper):
    """« Ne pas retenir → Liste d'attente » rather than the stored ``ne_pas_retenir``."""

    def prepare_delta_change_value(self, change, value):
        if value is None or value == "":
            return EMPTY  # never the word « None »
        field = self.model._meta.get_field(change.field)
        if field.choices:
            return dict(field.flatchoices).get(value, value)
        if hasattr(value, "tzinfo"):
            return format_datetime_fr(value)
        return super().prepare_delta_change_value(change, value)

    def get_obj_diff_display(self):
        # The audit shows before and after in full: a feedback to the collectivité cut to
        # 80 characters (the package's default) would hide what changed.
        return ObjDiffDisplay(max_length=5000)


class HistoryAdmin(SimpleHistoryAdmin):
    """History pages in French (see templates/simple_history/object_history_list.html)."""

    def get_historical_record_context_helper(self, request, historical_record):
        return _LabelledChanges(self.model, historical_record)

    def history_view_title(self, request, obj):
        return f"Historique : {obj}"

    def history_form_view_title(self, request, obj):
        return f"Version historique : {obj}"

    def history_view(self, request, object_id, extra_context=None):
        self._pk_or_404(object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        self._pk_or_404(object_id)
        if not version_id.isdigit():
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _pk_or_404(self, object_id):
        # simple_history filters on the id as typed in the URL: « x » would be a 500.
        try:
            self.model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            raise Http404 from None


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Identité", {"fields": ["first_name", "last_name"]}),
        (
            "Droits",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "first_name", "last_name", "password1", "password2"],
            },
        ),
    ]


# The list of background tasks, in French with « Relancer », instead of django-tasks-db's.
admin.site.unregister(DBTaskResult)
from .tasks import admin as tasks_admin  # noqa: E402,F401 - registers TacheAdmin (uses this module)
