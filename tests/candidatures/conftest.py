"""Fixtures shared by the test modules of this directory."""

from datetime import date, datetime

import pytest

from candidatures.models import Appel, end_of_day
from candidatures.questionnaires.services import create_standard_questionnaire
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.admin_helpers import PARIS
from tests.factories import charge_de_mission


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def appel():
    """The 2021 call with its questionnaire (the 2021 form's questions)."""
    appel = Appel.objects.create(
        titre="Vers des territoires participatifs en Hauts-de-France",
        slug="2021",
        prefixe_numero="AMI-2021",
        est_publie=True,
        opens_at=datetime(2020, 12, 10, 9, 0, tzinfo=PARIS),
        closes_at=end_of_day(date(2021, 3, 12)),
        announcement_at=datetime(2021, 4, 15, 9, 0, tzinfo=PARIS),
    )
    create_standard_questionnaire(appel=appel)
    return appel
