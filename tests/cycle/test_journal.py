"""The journal de bord: services (author only, at least one prompt, history), visibility
(private, binôme, shared; list, direct URL, shared journal, tour de table), access rules."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLResolver, include, path, reverse

import cerdd_ami.urls
import cycle.urls
from cycle import views_journal
from cycle.journal import delete_entry, shared_by_seance, update_entry, write_entry
from cycle.models import EntreeJournal, MembreBinome, ReponseFacilitateur, Seance
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import StaffFactory, UserFactory
from tests.utils import page_text

V = EntreeJournal.Visibilite

# The journal's URLs until cycle/urls.py lists them: the project's URLs, with the cycle
# namespace extended (harmless once the real lines are there: same names, same views).
JOURNAL_URLS = [
    path("<int:participant_pk>/journal/", views_journal.journal_list, name="journal"),
    path(
        "<int:participant_pk>/journal/<int:entree_pk>/modifier/",
        views_journal.journal_edit,
        name="journal_modifier",
    ),
    path(
        "<int:participant_pk>/journal/<int:entree_pk>/supprimer/",
        views_journal.journal_delete,
        name="journal_supprimer",
    ),
    path(
        "<int:participant_pk>/journal-partage/",
        views_journal.journal_partage,
        name="journal_partage",
    ),
    path(
        "<int:participant_pk>/journal-partage/tour-de-table/<int:seance_numero>/",
        views_journal.tour_de_table,
        name="tour_de_table",
    ),
]
urlpatterns = [
    path("cycle/", include(([*cycle.urls.urlpatterns, *JOURNAL_URLS], "cycle"))),
    *(
        pattern
        for pattern in cerdd_ami.urls.urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace == "cycle")
    ),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture
def cycle():
    return CycleFactory()


@pytest.fixture
def auteur():
    return UserFactory(email="claire@arras.test")


@pytest.fixture
def partenaire():
    return UserFactory(email="ines@arras.test")


@pytest.fixture
def participant(cycle, auteur, partenaire):
    participant = ParticipantFactory(cycle=cycle, createur=auteur)
    # The binôme partner signs in as a member of the same participation.
    participant.membres.filter(role=MembreBinome.Role.TECHNICIEN).update(user=partenaire)
    return participant


@pytest.fixture
def autre():
    return UserFactory(email="marc@lens.test")


@pytest.fixture
def autre_participant(cycle, autre):
    return ParticipantFactory(cycle=cycle, createur=autre)


def seance(cycle, numero):
    return Seance.objects.get(cycle=cycle, numero=numero)


def write(participant, auteur, visibilite=V.PRIVEE, seance=None, **prompts):
    prompts = prompts or {"points_forts": "La boussole de la participation."}
    return write_entry(
        participant=participant, auteur=auteur, seance=seance, visibilite=visibilite, **prompts
    )


def url(name, participant, *args):
    return reverse(f"cycle:{name}", args=[participant.pk, *args])


# Services ------------------------------------------------------------------------------------


def test_write_entry_is_private_by_default(participant, auteur):
    entree = write_entry(
        participant=participant,
        auteur=auteur,
        seance=seance(participant.cycle, 1),
        points_forts="  Les outils  ",
        points_vigilance="",
        idees="",
        marges_progression="",
    )
    assert entree.visibilite == V.PRIVEE
    assert entree.points_forts == "Les outils"
    assert entree.history.count() == 1
    assert entree.history.first().history_user == auteur


def test_write_entry_needs_one_prompt(participant, auteur):
    with pytest.raises(ValidationError) as error:
        write(participant, auteur, points_forts="  ", idees="")
    assert "Renseignez au moins une rubrique" in error.value.messages[0]
    assert not EntreeJournal.objects.exists()


def test_write_entry_refuses_a_stranger_and_another_cycles_seance(participant, autre, auteur):
    with pytest.raises(PermissionDenied):
        write(participant, autre)
    other_cycle_seance = ParticipantFactory().cycle.seances.first()
    assert other_cycle_seance.cycle_id != participant.cycle_id
    with pytest.raises(ValidationError) as error:
        write(participant, auteur, seance=other_cycle_seance)
    assert "n'appartient pas au cycle" in str(error.value)


def test_update_keeps_history_and_sharing_can_be_withdrawn(participant, auteur):
    entree = write(participant, auteur)
    update_entry(entree=entree, auteur=auteur, visibilite=V.PARTAGEE, idees="Un budget.")
    entree.refresh_from_db()
    assert entree.visibilite == V.PARTAGEE
    assert entree.idees == "Un budget."
    assert entree.history.count() == 2
    update_entry(entree=entree, auteur=auteur, visibilite=V.PRIVEE)
    entree.refresh_from_db()
    assert entree.visibilite == V.PRIVEE
    assert entree.history.count() == 3
    # Nothing changed: no new version.
    update_entry(entree=entree, auteur=auteur, visibilite=V.PRIVEE)
    assert entree.history.count() == 3


def test_only_the_author_updates_or_deletes(participant, auteur, partenaire):
    entree = write(participant, auteur, visibilite=V.BINOME)
    with pytest.raises(PermissionDenied):
        update_entry(entree=entree, auteur=partenaire, idees="Pas à moi.")
    with pytest.raises(PermissionDenied):
        delete_entry(entree=entree, auteur=partenaire)
    with pytest.raises(ValidationError):
        update_entry(entree=entree, auteur=auteur, points_forts="")
    with pytest.raises(TypeError):
        update_entry(entree=entree, auteur=auteur, auteur_id=partenaire.pk)
    delete_entry(entree=entree, auteur=auteur)
    assert not EntreeJournal.objects.exists()
    assert EntreeJournal.history.filter(id=entree.pk, history_type="-").count() == 1


# Visibility ----------------------------------------------------------------------------------


def test_readable_by(participant, autre_participant, auteur, partenaire, autre):
    privee = write(participant, auteur, V.PRIVEE)
    binome = write(participant, auteur, V.BINOME)
    partagee = write(participant, auteur, V.PARTAGEE)
    readable = EntreeJournal.objects.readable_by
    assert set(readable(auteur)) == {privee, binome, partagee}
    assert set(readable(partenaire)) == {binome, partagee}
    assert set(readable(autre)) == {partagee}
    assert set(readable(StaffFactory())) == {partagee}


def test_private_entry_invisible_to_partner_and_other_collectivite(
    client, participant, autre_participant, auteur, partenaire, autre
):
    privee = write(participant, auteur, V.PRIVEE, points_forts="Secret de Claire")
    client.force_login(partenaire)
    assert "Secret de Claire" not in page_text(client.get(url("journal", participant)))
    assert client.get(url("journal_modifier", participant, privee.pk)).status_code == 404
    assert client.post(url("journal_supprimer", participant, privee.pk)).status_code == 404
    assert "Secret de Claire" not in page_text(client.get(url("journal_partage", participant)))

    client.force_login(autre)
    assert client.get(url("journal", participant)).status_code == 404
    assert client.get(url("journal_modifier", participant, privee.pk)).status_code == 404
    assert client.get(url("journal_modifier", autre_participant, privee.pk)).status_code == 404
    assert "Secret de Claire" not in page_text(
        client.get(url("journal_partage", autre_participant))
    )
    assert EntreeJournal.objects.filter(pk=privee.pk).exists()


def test_binome_entry_visible_to_partner_only(
    client, participant, autre_participant, auteur, partenaire, autre
):
    write(participant, auteur, V.BINOME, idees="Pour Inès seulement")
    client.force_login(partenaire)
    content = page_text(client.get(url("journal", participant)))
    assert "Pour Inès seulement" in content
    assert "Modifier" not in content  # the partner reads, only the author edits
    client.force_login(autre)
    assert "Pour Inès seulement" not in page_text(
        client.get(url("journal_partage", autre_participant))
    )


def test_shared_entry_in_shared_journal_and_tour_de_table(
    client, participant, autre_participant, auteur, autre
):
    cycle = participant.cycle
    s1 = seance(cycle, 1)
    entree = write(participant, auteur, V.PARTAGEE, seance=s1, points_forts="Carto Party réussie")
    ReponseFacilitateur.objects.create(entree=entree, texte="Bravo, à raconter en séance 2 !")
    # Written between séances 1 and 2: read at séance 2.
    entre_deux = write(participant, auteur, V.PARTAGEE, idees="Budget participatif")
    EntreeJournal.objects.filter(pk=entre_deux.pk).update(
        created_at=entree.created_at.replace(
            year=s1.date.year, month=s1.date.month, day=s1.date.day
        )
        + timedelta(days=3)
    )
    write(autre_participant, autre, V.PARTAGEE, seance=s1, points_vigilance="Mobiliser")

    client.force_login(autre)
    content = page_text(client.get(url("journal_partage", autre_participant)))
    assert "Carto Party réussie" in content
    assert "Bravo, à raconter en séance 2 !" in content
    s1_part = content[content.index("Séance 1 —") : content.index("Séance 2 —")]
    s2_part = content[content.index("Séance 2 —") : content.index("Séance 3 —")]
    assert "Carto Party réussie" in s1_part
    assert "Mobiliser" in s1_part
    assert "Budget participatif" in s2_part
    assert "Budget participatif" not in s1_part

    names = sorted(
        [participant.candidature.collectivite.nom, autre_participant.candidature.collectivite.nom]
    )
    first = page_text(client.get(url("tour_de_table", autre_participant, 1)))
    assert names[0] in first
    assert "1 / 2" in first
    assert "Suivant" in first
    second = page_text(client.get(url("tour_de_table", autre_participant, 1) + "?i=1"))
    assert names[1] in second
    assert "2 / 2" in second
    assert "Précédent" in second
    assert "Suivant" not in second
    assert client.get(url("tour_de_table", autre_participant, 99)).status_code == 404


def test_shared_by_seance_puts_late_entries_after_the_last_seance(participant, auteur):
    seances = list(participant.cycle.seances.order_by("numero"))
    entree = write(participant, auteur, V.PARTAGEE)
    entree.created_at = entree.created_at.replace(year=seances[-1].date.year + 1)
    blocks = shared_by_seance([entree], seances)
    assert blocks[-1]["seance"] is None
    assert blocks[-1]["collectivites"][0][1] == [entree]


# Views ---------------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, participant):
    for name, args in [
        ("journal", []),
        ("journal_partage", []),
        ("tour_de_table", [1]),
    ]:
        response = client.get(url(name, participant, *args))
        assert response.status_code == 302
        assert response["Location"].startswith("/connexion/")


def test_write_edit_delete_through_the_views(client, participant, auteur):
    client.force_login(auteur)
    response = client.post(url("journal", participant), {"visibilite": V.PRIVEE, "seance": ""})
    assert response.status_code == 200
    assert "Renseignez au moins une rubrique" in page_text(response)

    response = client.post(
        url("journal", participant),
        {"visibilite": V.PRIVEE, "seance": seance(participant.cycle, 1).pk, "idees": "Tester"},
    )
    assert response.status_code == 302
    entree = EntreeJournal.objects.get()
    assert entree.auteur == auteur
    assert entree.seance.numero == 1

    response = client.post(
        url("journal_modifier", participant, entree.pk),
        {"visibilite": V.PARTAGEE, "seance": "", "idees": "Tester encore"},
    )
    assert response.status_code == 302
    content = page_text(client.get(url("journal", participant)))
    assert "Tester encore" in content
    assert "2 versions" in content
    assert "modifiée le" in content

    assert client.get(url("journal_supprimer", participant, entree.pk)).status_code == 405
    client.post(url("journal_supprimer", participant, entree.pk))
    assert not EntreeJournal.objects.exists()


def test_list_query_count_does_not_grow(client, participant, auteur, partenaire):
    client.force_login(auteur)
    write(participant, auteur)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url("journal", participant)).status_code == 200
    for visibilite in [V.PRIVEE, V.BINOME, V.PARTAGEE]:
        write(participant, auteur, visibilite)
    write(participant, partenaire, V.BINOME)
    update_entry(
        entree=EntreeJournal.objects.filter(auteur=auteur).first(), auteur=auteur, idees="Encore"
    )
    with CaptureQueriesContext(connection) as five:
        assert client.get(url("journal", participant)).status_code == 200
    assert EntreeJournal.objects.count() == 5
    assert len(five) == len(one)


def test_facilitators_project_the_tour_de_table_with_shared_entries_only(
    client, cycle, participant, auteur
):
    from cerdd_ami.permissions import sync_role_permissions
    from tests.factories import charge_de_mission

    sync_role_permissions()
    write(participant, auteur, V.PARTAGEE, cycle.seances.get(numero=1), idees="Partagée.")
    write(participant, auteur, V.PRIVEE, cycle.seances.get(numero=1), idees="Secrète.")
    client.force_login(charge_de_mission())

    shared = page_text(client.get(url("journal_partage", participant)))
    projected = page_text(client.get(url("tour_de_table", participant, 1)))

    assert "Partagée." in shared
    assert "Partagée." in projected
    assert "Secrète." not in shared + projected
