"""The participant side of the cycle: the cycle and its séances, enrolment, access, the binôme."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from candidatures.models import Issue
from cerdd_ami.models import User
from cycle.models import MembreBinome, Participant
from cycle.participants import services
from cycle.seances import services as seance_services
from tests.candidatures.factories import AppelFactory
from tests.cycle.factories import CycleFactory, ParticipantFactory, retain, submitted_candidature
from tests.cycle.participants.participants_helpers import BINOME_POST, PARIS, members_of
from tests.factories import UserFactory
from tests.utils import page_text

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------
# The cycle and its séances


def test_ensure_cycle_creates_the_seven_seances_of_the_2021_edition_once():
    appel = AppelFactory(edition_2021=True)
    cycle = seance_services.ensure_cycle(appel)
    assert seance_services.ensure_cycle(appel) == cycle
    seances = list(cycle.seances.order_by("numero"))
    assert [(s.numero, s.date) for s in seances] == [
        (1, datetime.date(2021, 5, 18)),
        (2, datetime.date(2021, 7, 6)),
        (3, datetime.date(2021, 9, 28)),
        (4, datetime.date(2021, 11, 9)),
        (5, datetime.date(2021, 12, 14)),
        (6, datetime.date(2022, 2, 8)),
        (7, datetime.date(2022, 3, 29)),
    ]
    assert all(s.date.weekday() == 1 for s in seances)  # real Tuesdays
    assert seances[0].lieu == "Loos-en-Gohelle"
    assert seances[0].collectivite_hote.insee == "62528"
    assert {s.lieu for s in seances[1:]} == {"À définir"}
    assert seances[1].programme_dejeuner == "Déjeuner en commun."
    assert seances[1].programme_apres_midi == (
        "Exercices de mise en situation et d'appropriation des acquis de la matinée."
    )


def test_ensure_cycle_of_another_edition_steps_six_weeks():
    appel = AppelFactory(first_session_date=datetime.date(2022, 5, 17))
    cycle = seance_services.ensure_cycle(appel)
    dates = list(cycle.seances.order_by("numero").values_list("date", flat=True))
    assert dates == [datetime.date(2022, 5, 17) + datetime.timedelta(weeks=6 * i) for i in range(7)]


# ---------------------------------------------------------------------------------------------
# Enrolment


def test_enrol_counts_only_published_retained_decisions_without_withdrawal():
    cycle = CycleFactory()
    appel = cycle.appel
    referent = UserFactory(email="claire.dupont@arras.exemple.test")
    retained = submitted_candidature(appel)
    retain(retained)
    staged = submitted_candidature(appel)
    retain(staged, published=False)
    waiting = submitted_candidature(appel)
    retain(waiting, issue=Issue.LISTE_ATTENTE)
    refused = submitted_candidature(appel)
    retain(refused, issue=Issue.NON_RETENUE)
    withdrawn = submitted_candidature(appel)
    retain(withdrawn, desistement_at=appel.announcement_at)

    assert services.enrol_retained(cycle=cycle) == 1
    assert services.enrol_retained(cycle=cycle) == 0  # idempotent
    participant = Participant.objects.get()
    assert participant.candidature == retained
    assert participant.statut == Participant.Statut.A_CONFIRMER
    assert retained.collectivite.nom == "Arras"
    assert members_of(participant) == [
        (
            "elu",
            True,
            "Claire Dupont",
            "Adjointe déléguée à la démocratie participative",
            "claire.dupont@arras.exemple.test",
            "06 12 34 56 78",
            referent.email,
        ),
        (
            "technicien",
            True,
            "Julien Martin",
            "Chargé de mission développement durable",
            "julien.martin@arras.exemple.test",
            "03 21 50 50 51",
            None,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# Access


def test_anonymous_visitors_are_sent_to_the_sign_in_page(client):
    participant = ParticipantFactory()
    for url in (
        reverse("cycle:espace"),
        reverse("cycle:binome", args=[participant.pk]),
        reverse("cycle:seance", args=[participant.pk, 1]),
        reverse("cycle:seance_ics", args=[participant.pk, 1]),
        reverse("cycle:calendrier_ics", args=[participant.pk]),
        reverse("cycle:retrait", args=[participant.pk]),
    ):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/connexion/?next=")


def test_another_collectivites_participation_is_a_404(client):
    mine = ParticipantFactory(createur=UserFactory())
    theirs = ParticipantFactory(cycle=mine.cycle)
    client.force_login(mine.candidature.acces.get().user)
    for url in (
        reverse("cycle:binome", args=[theirs.pk]),
        reverse("cycle:seance", args=[theirs.pk, 1]),
        reverse("cycle:seance_ics", args=[theirs.pk, 1]),
        reverse("cycle:calendrier_ics", args=[theirs.pk]),
        reverse("cycle:retrait", args=[theirs.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(reverse("cycle:retrait", args=[theirs.pk]), {"motif": "x"}).status_code == 404
    )
    theirs.refresh_from_db()
    assert theirs.statut == Participant.Statut.A_CONFIRMER


def test_a_collectivite_not_retained_has_no_participation(client):
    cycle = CycleFactory()
    applicant = UserFactory()
    candidature = submitted_candidature(cycle.appel, createur=applicant)
    retain(candidature, issue=Issue.NON_RETENUE)
    services.enrol_retained(cycle=cycle)
    client.force_login(applicant)

    response = client.get(reverse("cycle:espace"))

    assert response.status_code == 200
    assert "Votre collectivité ne participe pas au cycle." in page_text(response)
    assert not Participant.objects.of_user(applicant).exists()


# ---------------------------------------------------------------------------------------------
# The binôme


def test_confirming_the_binome_stores_exactly_what_was_confirmed(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    client.force_login(referent)
    url = reverse("cycle:binome", args=[participant.pk])
    form_page = page_text(client.get(url))
    assert 'value="Claire Dupont"' in form_page  # prefilled from the dossier

    response = client.post(url, BINOME_POST)

    assert response.status_code == 302
    assert response["Location"] == reverse("cycle:espace")
    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.CONFIRME
    assert participant.confirme_at is not None
    assert members_of(participant) == [
        (
            "elu",
            False,
            "Lucie Lefebvre",
            "Conseillère municipale",
            "lucie.lefebvre@mairie.exemple.test",
            "",
            "lucie.lefebvre@mairie.exemple.test",
        ),
        (
            "elu",
            True,
            "Claire Dupont",
            "Adjointe à la démocratie participative",
            "claire.dupont@mairie.exemple.test",
            "06 12 34 56 78",
            "claire.dupont@mairie.exemple.test",
        ),
        (
            "technicien",
            True,
            "Karim Benali",
            "Chargé de mission transition",
            "karim.benali@mairie.exemple.test",
            "03 21 50 50 51",
            "karim.benali@mairie.exemple.test",
        ),
    ]
    # Each member can now sign in with a link, and sees the participation as theirs.
    karim = User.objects.get(email="karim.benali@mairie.exemple.test")
    assert not karim.has_usable_password()
    assert list(Participant.objects.of_user(karim)) == [participant]


def test_editing_the_binome_keeps_the_first_confirmation_and_history_records_the_change(client):
    """Defect 5 of issue 13: « Confirmé le 30 avril 2021 » became today's date."""
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    client.force_login(referent)
    url = reverse("cycle:binome", args=[participant.pk])
    assert client.post(url, BINOME_POST).status_code == 302
    first = datetime.datetime(2021, 4, 30, 10, 0, tzinfo=PARIS)
    Participant.objects.filter(pk=participant.pk).update(confirme_at=first)

    form_page = page_text(client.get(url))
    assert 'value="Enregistrer le binôme"' in form_page
    assert "Confirmer notre participation" not in form_page
    changed = {**BINOME_POST, "technicien_nom": "Karim Benali-Roussel", "suppleant_elu_nom": ""}
    changed |= {"suppleant_elu_fonction": "", "suppleant_elu_email": ""}
    response = client.post(url, changed)

    assert response.status_code == 302
    participant.refresh_from_db()
    assert (participant.statut, participant.confirme_at) == (Participant.Statut.CONFIRME, first)
    espace = page_text(client.get(reverse("cycle:espace")))
    assert "Confirmé</span> le 30 avril 2021" in espace
    assert "Votre binôme est enregistré." in espace
    karim = participant.membres.get(email="karim.benali@mairie.exemple.test")
    assert [(h.history_type, h.nom, h.history_user) for h in karim.history.order_by("pk")][-1] == (
        "~",
        "Karim Benali-Roussel",
        referent,
    )
    lucie = MembreBinome.history.filter(email="lucie.lefebvre@mairie.exemple.test")
    assert list(lucie.order_by("pk").values_list("history_type", "history_user")) == [
        ("+", referent.pk),
        ("-", referent.pk),
    ]
    confirmations = participant.history.filter(history_user=referent).order_by("pk")
    assert [h.history_change_reason for h in confirmations] == [
        "Participation et binôme confirmés",
        "Binôme modifié",
    ]
    assert confirmations.last().confirme_at == first

    from cerdd_ami.permissions import sync_role_permissions
    from tests.factories import charge_de_mission

    sync_role_permissions()
    client.force_login(charge_de_mission())
    history = page_text(
        client.get(reverse("admin:cycle_participant_history", args=[participant.pk]))
    )
    assert "Binôme modifié" in history
    assert "Participation et binôme confirmés" in history


def test_a_missing_titulaire_is_refused_in_french_and_nothing_changes(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    before = members_of(participant)
    client.force_login(referent)

    response = client.post(
        reverse("cycle:binome", args=[participant.pk]),
        {**BINOME_POST, "technicien_nom": "", "technicien_email": ""},
    )

    assert response.status_code == 200
    text = page_text(response)
    assert "Indiquez le nom et prénom du ou de la technicien·ne titulaire." in text
    assert "Indiquez l'adresse e-mail du ou de la technicien·ne titulaire." in text
    assert members_of(participant) == before
    participant.refresh_from_db()
    assert participant.statut == Participant.Statut.A_CONFIRMER


def test_the_service_requires_one_titulaire_per_role():
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    with pytest.raises(ValidationError) as error:
        services.confirm_participation(
            participant=participant,
            user=referent,
            binome=[
                {
                    "role": "elu",
                    "titulaire": True,
                    "nom": "Claire Dupont",
                    "email": "claire@mairie.exemple.test",
                }
            ],
        )
    assert error.value.messages == ["Le binôme compte exactement un·e technicien·ne titulaire."]
