"""Fixtures shared by the test modules of this directory."""

from functools import partial

import pytest

from candidatures.models import Collectivite
from tests.candidatures.dossiers.services_helpers import ARRAS_REF_TECH
from tests.candidatures.factories import AppelFactory
from tests.factories import UserFactory


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Runs the on_commit callbacks (e-mails, file removals) of the block, as a commit would."""
    return partial(django_capture_on_commit_callbacks, execute=True)


@pytest.fixture
def appel_2021():
    return AppelFactory(edition_2021=True)


@pytest.fixture
def arras():
    return Collectivite.objects.get(insee="62041")


@pytest.fixture
def technicien():
    # The référent·e technique started the dossier: the mail goes to both référent·es only.
    return UserFactory(email=ARRAS_REF_TECH)
