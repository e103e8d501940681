"""The app's admin composition root. Django's autodiscovery imports ``candidatures.admin``:
importing each sub-package's admin module registers its own ModelAdmins, and the two admins
that several sub-packages extend, the call's and the submitted dossiers', are composed here,
once, from each sub-package's mixin (no unregister, no import circle).
"""

from django.contrib import admin

from .appels.admin import AppelAdminBase, CritereInline
from .appels.admin_edition import NextEditionAppelAdminMixin
from .decisions import admin as decisions_admin  # noqa: F401
from .decisions import admin_courriers  # noqa: F401
from .decisions.admin_exports import ExportsAppelAdminMixin
from .decisions.admin_mixins import DecisionsAppelAdminMixin, DecisionsCandidatureAdminMixin
from .dossiers.admin import AppelDossiersAdminMixin, CandidatureAdmin
from .jury import admin_jurors, admin_staff  # noqa: F401
from .jury.admin_appel import JuryAppelAdminMixin
from .messagerie.admin import MessagerieCandidatureAdminMixin
from .models import Appel, Candidature
from .questionnaires.admin import EtapeInline


@admin.register(Appel)
class AppelAdmin(
    NextEditionAppelAdminMixin,
    DecisionsAppelAdminMixin,
    ExportsAppelAdminMixin,
    JuryAppelAdminMixin,
    AppelDossiersAdminMixin,
    AppelAdminBase,
):
    """The call: its own fields and pages, its questionnaire's steps, its dossiers' counts,
    the jury's, the decisions', and « Préparer l'édition suivante »."""

    inlines = [CritereInline, EtapeInline]


@admin.register(Candidature)
class CandidatureCompositeAdmin(
    MessagerieCandidatureAdminMixin, DecisionsCandidatureAdminMixin, CandidatureAdmin
):
    """The submitted dossiers, with their decisions and their thread with the applicant."""
