"""The app's admin composition root: the call's admin (AppelAdmin), then every sub-package's
admin module, imported here so that Django's autodiscovery (which imports
``candidatures.admin``) registers them.
"""

from django.contrib import admin

# Importing a sub-package's admin module registers its own ModelAdmins.
from .appels.admin import AppelAdminBase
from .dossiers.admin import AppelDossiersAdminMixin
from .models import Appel


@admin.register(Appel)
class AppelAdmin(AppelDossiersAdminMixin, AppelAdminBase):
    """The call's admin, composed once (see AppelAdminBase)."""


# The jury's and the decisions' admin pages live in their own modules; importing them
# registers them (admin_decisions extends the dossiers' and the calls' admins, last).
from . import admin_courriers, admin_decisions, admin_jury, admin_jury_staff  # noqa: E402, F401
