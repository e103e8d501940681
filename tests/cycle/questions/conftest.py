"""The people of a cycle the questions au Cerdd tests share."""

import pytest

from cerdd_ami.permissions import sync_role_permissions
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import UserFactory, charge_de_mission


@pytest.fixture
def staff():
    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def cycle():
    return CycleFactory()


@pytest.fixture
def asker():
    return UserFactory(email="maire@arras.test")


@pytest.fixture
def participant(cycle, asker):
    return ParticipantFactory(cycle=cycle, createur=asker)
