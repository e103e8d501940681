"""Submitting a dossier: the deadline, a double click, completeness; reopening it and granting
an extension.
"""

from datetime import date, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from candidatures.dossiers import services, submission
from candidatures.models import Candidature, Depot, Evenement, Question, end_of_day
from tests.candidatures.dossiers.services_helpers import DEADLINE_PASSED, events, paris
from tests.candidatures.factories import (
    AppelFactory,
    CandidatureFactory,
    answer,
    answer_of,
    complete_candidature,
)
from tests.factories import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# submit_candidature: deadline, double click, completeness


def test_submit_candidature_accepts_the_last_second_of_the_deadline(appel_2021):
    candidature = complete_candidature(appel=appel_2021)
    assert appel_2021.closes_at == paris(2021, 3, 12, 23, 59, 59)

    depot = submission.submit_candidature(
        candidature=candidature, user=None, now=paris(2021, 3, 12, 23, 59, 59)
    )

    assert depot.version == 1
    assert Candidature.objects.get(pk=candidature.pk).statut == Candidature.Statut.DEPOSEE


def test_submit_candidature_refuses_one_second_after_the_deadline(appel_2021, mailoutbox):
    candidature = complete_candidature(appel=appel_2021)

    with pytest.raises(ValidationError) as raised:
        submission.submit_candidature(
            candidature=candidature, user=None, now=paris(2021, 3, 13, 0, 0, 0)
        )

    assert raised.value.messages == [DEADLINE_PASSED]
    candidature.refresh_from_db()
    assert (candidature.statut, candidature.numero) == (Candidature.Statut.BROUILLON, "")
    assert Depot.objects.count() == 0
    assert mailoutbox == []


def test_submit_candidature_uses_the_server_clock_by_default(appel_2021):
    candidature = complete_candidature(appel=appel_2021)

    with (
        time_machine.travel(paris(2021, 3, 13, 0, 0, 0), tick=False),
        pytest.raises(ValidationError) as raised,
    ):
        submission.submit_candidature(candidature=candidature, user=None)

    assert raised.value.messages == [DEADLINE_PASSED]


def test_submit_candidature_deadline_holds_across_the_spring_forward():
    # 28 March 2021: at 2:00 Paris clocks jump to 3:00 (CET +01:00 → CEST +02:00).
    appel = AppelFactory(
        opens_at=paris(2021, 3, 1, 0, 0),
        closes_at=paris(2021, 3, 28, 3, 30, 0),
        announcement_at=paris(2021, 4, 15, 9, 0),
    )
    assert appel.closes_at.utcoffset() == timedelta(hours=2)
    on_time = complete_candidature(appel=appel)
    late = complete_candidature(appel=appel)
    just_before = paris(2021, 3, 28, 3, 29, 59)
    just_after = paris(2021, 3, 28, 3, 30, 1)
    assert (just_before.utcoffset(), just_after.utcoffset()) == (
        timedelta(hours=2),
        timedelta(hours=2),
    )

    submission.submit_candidature(candidature=on_time, user=None, now=just_before)
    with pytest.raises(ValidationError) as raised:
        submission.submit_candidature(candidature=late, user=None, now=just_after)

    assert raised.value.messages == [
        "La date limite de dépôt (28 mars 2021 à 3 h 30 Paris) est dépassée : le dossier ne "
        "peut plus être déposé."
    ]
    assert list(Candidature.objects.filter(appel=appel).order_by("pk").values_list("statut")) == [
        (Candidature.Statut.DEPOSEE,),
        (Candidature.Statut.BROUILLON,),
    ]


def test_submit_candidature_twice_submits_once(appel_2021, on_commit, mailoutbox):
    candidature = complete_candidature(appel=appel_2021)
    now = paris(2021, 3, 2, 10, 0)

    with on_commit():
        submission.submit_candidature(candidature=candidature, user=None, now=now)
    with on_commit(), pytest.raises(submission.AlreadySubmitted) as raised:
        submission.submit_candidature(candidature=candidature, user=None, now=now)

    assert raised.value.messages == ["Ce dossier est déjà déposé."]
    assert isinstance(raised.value, ValidationError)
    assert Depot.objects.count() == 1
    assert len(mailoutbox) == 1
    assert Candidature.objects.get(pk=candidature.pk).numero == "AMI-2021-001"


def test_submit_candidature_lists_what_an_empty_dossier_misses(appel_2021, mailoutbox):
    candidature = CandidatureFactory(appel=appel_2021)

    with pytest.raises(submission.IncompleteCandidature) as raised:
        submission.submit_candidature(
            candidature=candidature, user=None, now=paris(2021, 3, 2, 10, 0)
        )

    messages = raised.value.messages
    assert len(messages) == 21
    assert messages[:3] == [
        "Il manque l'adresse postale de la collectivité.",
        "Il manque le code postal.",
        "Il manque la ville.",
    ]
    assert "Il manque le nom du ou de la référent·e politique." in messages
    assert "Il manque les motivations de la collectivité." in messages
    assert messages[-4:] == [
        "Il manque la lettre de motivation.",
        "L'engagement à venir en binôme élu·e / technicien·ne manque.",
        "L'engagement à expérimenter sur le territoire manque.",
        "Le consentement au traitement des données personnelles manque.",
    ]
    assert raised.value.missing[-4][0] == 4
    candidature.refresh_from_db()
    assert (candidature.statut, candidature.numero) == (Candidature.Statut.BROUILLON, "")
    assert Depot.objects.count() == 0
    assert Evenement.objects.count() == 0
    assert mailoutbox == []


def test_submit_candidature_without_the_letter_is_incomplete(appel_2021):
    candidature = complete_candidature(appel=appel_2021)
    candidature.pieces.all().delete()

    with pytest.raises(submission.IncompleteCandidature) as raised:
        submission.submit_candidature(
            candidature=candidature, user=None, now=paris(2021, 3, 2, 10, 0)
        )

    assert raised.value.messages == ["Il manque la lettre de motivation."]


def test_submit_candidature_refuses_a_long_text_shorter_than_its_minimum(appel_2021):
    Question.objects.filter(etape__appel=appel_2021, code="motivations").update(
        options={"min_caracteres": 1500, "max_caracteres": 5000}
    )
    short = complete_candidature(appel=appel_2021, motivations="x" * 1499)
    # Blanks around the text do not count; the 1 500 characters themselves do.
    enough = complete_candidature(appel=appel_2021, motivations="  " + "x" * 1500 + "\n")

    with pytest.raises(submission.IncompleteCandidature) as raised:
        submission.submit_candidature(candidature=short, user=None, now=paris(2021, 3, 2, 10, 0))
    depot = submission.submit_candidature(
        candidature=enough, user=None, now=paris(2021, 3, 2, 10, 0)
    )

    assert raised.value.messages == [
        "La réponse à « Motivations » compte moins de 1\u202f500 caractères."
    ]
    assert raised.value.missing[0][0] == 3
    assert depot.version == 1


# ---------------------------------------------------------------------------------------------
# reopen_candidature


def test_reopen_candidature_then_submit_again_makes_version_2(
    appel_2021, technicien, on_commit, mailoutbox
):
    candidature = complete_candidature(appel=appel_2021, createur=technicien)
    first_motivations = answer_of(candidature, "motivations")
    with on_commit():
        submission.submit_candidature(
            candidature=candidature, user=technicien, now=paris(2021, 3, 1, 9, 0)
        )

    submission.reopen_candidature(
        candidature=candidature, user=technicien, now=paris(2021, 3, 5, 9, 0)
    )
    candidature.refresh_from_db()
    assert (candidature.statut, candidature.numero, candidature.deposee_at) == (
        Candidature.Statut.BROUILLON,
        "AMI-2021-001",
        None,
    )
    answer(candidature, "motivations", "Nouvelle version des motivations.")
    candidature.save()
    with on_commit():
        depot = submission.submit_candidature(
            candidature=candidature, user=technicien, now=paris(2021, 3, 10, 9, 0)
        )

    candidature.refresh_from_db()
    depot.refresh_from_db()
    assert (candidature.statut, candidature.numero) == (
        Candidature.Statut.DEPOSEE,
        "AMI-2021-001",
    )
    assert depot.version == 2
    versions = {d.version: d for d in candidature.depots.all()}
    assert sorted(versions) == [1, 2]
    assert versions[1].contenu["sections"][2]["reponses"][0]["valeur"] == first_motivations
    assert versions[2].contenu["sections"][2]["reponses"][0]["valeur"] == (
        "Nouvelle version des motivations."
    )
    assert versions[1].recu.name != versions[2].recu.name
    assert depot.recu.name.startswith(f"recus/{appel_2021.slug}/AMI-2021-001-v2-")
    assert [row[:3] for row in events(candidature)] == [
        ("depot", "brouillon", "deposee"),
        ("reouverture", "deposee", "brouillon"),
        ("depot", "brouillon", "deposee"),
    ]
    assert events(candidature)[2][4] == "Dépôt n° AMI-2021-001 (version 2)"
    assert [m.subject for m in mailoutbox] == ["Accusé de réception — AMI-2021-001 — Arras"] * 2
    assert [m.attachments[0].filename for m in mailoutbox] == [
        "accuse-de-reception-AMI-2021-001-v1.pdf",
        "accuse-de-reception-AMI-2021-001-v2.pdf",
    ]


def test_reopen_candidature_after_the_deadline_is_refused(appel_2021):
    candidature = complete_candidature(appel=appel_2021)
    submission.submit_candidature(candidature=candidature, user=None, now=paris(2021, 3, 1, 9, 0))

    with pytest.raises(ValidationError) as raised:
        submission.reopen_candidature(
            candidature=candidature, user=None, now=paris(2021, 3, 13, 0, 0, 0)
        )

    assert raised.value.messages == ["Après la date limite, le dossier ne peut plus être rouvert."]
    assert Candidature.objects.get(pk=candidature.pk).statut == Candidature.Statut.DEPOSEE
    assert candidature.evenements.filter(nature=Evenement.Nature.REOUVERTURE).count() == 0


def test_reopen_candidature_of_a_draft_is_refused(appel_2021):
    candidature = complete_candidature(appel=appel_2021)

    with pytest.raises(ValidationError) as raised:
        submission.reopen_candidature(
            candidature=candidature, user=None, now=paris(2021, 3, 1, 9, 0)
        )

    assert raised.value.messages == ["Ce dossier n'est pas déposé : il est déjà modifiable."]


# ---------------------------------------------------------------------------------------------
# grant_extension


def test_grant_extension_lets_one_dossier_submit_after_the_deadline(appel_2021):
    candidature = complete_candidature(appel=appel_2021)
    other = complete_candidature(appel=appel_2021)
    staff = StaffFactory()
    late = paris(2021, 3, 18, 10, 0)
    with pytest.raises(ValidationError):
        submission.submit_candidature(candidature=candidature, user=None, now=late)

    services.grant_extension(
        candidature=candidature,
        until=end_of_day(date(2021, 3, 19)),
        staff_user=staff,
        reason="Panne de la messagerie de la mairie le 12 mars",
    )
    depot = submission.submit_candidature(candidature=candidature, user=None, now=late)

    candidature.refresh_from_db()
    assert candidature.prolongation_jusqu_au == paris(2021, 3, 19, 23, 59, 59)
    assert (candidature.statut, depot.version) == (Candidature.Statut.DEPOSEE, 1)
    assert events(candidature)[0] == (
        Evenement.Nature.PROLONGATION,
        "",
        "",
        staff.pk,
        "jusqu'au 19 mars 2021 à 23 h 59 — Panne de la messagerie de la mairie le 12 mars",
    )
    with pytest.raises(ValidationError) as raised:
        submission.submit_candidature(candidature=other, user=None, now=late)
    assert raised.value.messages == [DEADLINE_PASSED]


def test_grant_extension_refused_to_non_staff(appel_2021):
    candidature = complete_candidature(appel=appel_2021)

    with pytest.raises(PermissionDenied):
        services.grant_extension(
            candidature=candidature,
            until=end_of_day(date(2021, 3, 19)),
            staff_user=UserFactory(),
            reason="Sans droit",
        )

    candidature.refresh_from_db()
    assert candidature.prolongation_jusqu_au is None
    assert Evenement.objects.count() == 0


def test_grant_extension_must_go_beyond_the_deadline(appel_2021):
    candidature = complete_candidature(appel=appel_2021)

    with pytest.raises(ValidationError) as raised:
        services.grant_extension(
            candidature=candidature,
            until=paris(2021, 3, 12, 23, 0),
            staff_user=StaffFactory(),
            reason="Trop tôt",
        )

    assert raised.value.messages == [
        "La prolongation doit aller au-delà de la date limite de l'appel (12 mars 2021 à 23 h 59)."
    ]
    assert Candidature.objects.get(pk=candidature.pk).prolongation_jusqu_au is None
