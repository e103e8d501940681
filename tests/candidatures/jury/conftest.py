"""Fixtures shared by the test modules of this directory."""

import pytest

from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.jury.ranking_helpers import hand_example
from tests.factories import charge_de_mission


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test", first_name="Alexis", last_name="Montaigne")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def example():
    return hand_example()


@pytest.fixture
def roles():
    sync_role_permissions()
