"""The cycle app's admin, composed once here from each sub-domain's bases and mixins.

Autodiscovery imports only this module: it registers the cycle and séance admins and imports
the sub-packages' admin modules, which register their own models.
"""

from django.contrib import admin

from cerdd_ami.admin import DeletesStoredFilesMixin
from cycle.journal import admin as journal_admin  # noqa: F401  (registers its models)
from cycle.participants.admin import CycleEnrolmentAdminMixin, SeanceContextNoteAdminMixin
from cycle.presences.admin import CycleAttendanceAdminMixin, SeanceAttendanceAdminMixin
from cycle.questions import admin as questions_admin  # noqa: F401  (registers its models)
from cycle.reseau import admin as reseau_admin  # noqa: F401  (registers its models)
from cycle.seances.admin import CycleAdminBase, SeanceAdminBase
from cycle.seances.models import Cycle, Seance
from cycle.sondage import admin as sondage_admin  # noqa: F401  (registers its models)


@admin.register(Cycle)
class CycleAdmin(
    DeletesStoredFilesMixin, CycleAttendanceAdminMixin, CycleEnrolmentAdminMixin, CycleAdminBase
):
    list_display = [*CycleAdminBase.list_display, "grille"]
    actions = ["creer_seances", "inscrire_retenues"]


@admin.register(Seance)
class SeanceAdmin(SeanceAttendanceAdminMixin, SeanceContextNoteAdminMixin, SeanceAdminBase):
    list_display = [*SeanceAdminBase.list_display, "liens"]
    actions = ["envoyer_note"]
