"""Two collectivités of one cycle, each with a person who signs in: Claire (Arras side, the
élu·e of her binôme) and Marc (the technicien·ne of the other); a third collectivité in
another cycle (Zoé)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cycle.models import MembreBinome
from tests.candidatures.factories import tiny_pdf_bytes
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import UserFactory


@pytest.fixture
def cycle():
    return CycleFactory()


@pytest.fixture
def claire():
    return UserFactory(email="claire@arras.test", first_name="Claire", last_name="Compte")


@pytest.fixture
def marc():
    return UserFactory(email="marc@lens.test")


@pytest.fixture
def zoe():
    return UserFactory(email="zoe@ailleurs.test")


@pytest.fixture
def participant(cycle, claire):
    participant = ParticipantFactory(cycle=cycle, createur=claire)
    participant.membres.filter(role=MembreBinome.Role.ELU).update(user=claire)
    return participant


@pytest.fixture
def autre_participant(cycle, marc):
    participant = ParticipantFactory(cycle=cycle)
    participant.membres.filter(role=MembreBinome.Role.TECHNICIEN).update(user=marc)
    return participant


@pytest.fixture
def participant_ailleurs(zoe):
    # Another cycle (another call) altogether.
    return ParticipantFactory(createur=zoe)


def url(name, participant, *args):
    return reverse(f"cycle:{name}", args=[participant.pk, *args])


def pdf_upload(name="compte-rendu.pdf", text="Compte rendu de la Carto Party"):
    return SimpleUploadedFile(name, tiny_pdf_bytes(text), content_type="application/pdf")
