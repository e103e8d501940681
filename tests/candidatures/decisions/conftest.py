"""Fixtures shared by the test modules of this directory."""

import pytest

from candidatures.decisions import letter_templates
from candidatures.models import Issue, ModeleCourrier
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.decisions.decisions_helpers import deposee
from tests.candidatures.factories import AppelFactory
from tests.factories import UserFactory, charge_de_mission


@pytest.fixture
def appel():
    return AppelFactory(edition_2021=True, slug="2021", places=12)


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def applicant():
    # The dossier's creator is also its référent·e technique: two addresses receive its mail.
    return UserFactory(email="julien.martin@arras.exemple.test")


@pytest.fixture
def arras(appel, applicant):
    return deposee(appel, 1, createur=applicant)


@pytest.fixture
def lille(appel):
    return deposee(appel, 2)


@pytest.fixture
def amiens(appel):
    return deposee(appel, 3)


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def modele(appel):
    letter_templates.ensure_modeles_courrier(appel)
    return ModeleCourrier.objects.get(appel=appel, issue=Issue.LISTE_ATTENTE)
