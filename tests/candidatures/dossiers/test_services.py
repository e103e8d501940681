import hashlib
import importlib
import io
import logging
import threading
import zoneinfo
from datetime import date, datetime, timedelta
from functools import partial

import pytest
import time_machine
import weasyprint
from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection, transaction

from candidatures.dossiers import services, submission
from candidatures.models import (
    AccesCandidature,
    Appel,
    Candidature,
    Collectivite,
    Depot,
    Evenement,
    PieceJointe,
    end_of_day,
)
from cerdd_ami.models import User
from tests.candidatures.factories import (
    AppelFactory,
    CandidatureFactory,
    answer,
    answer_of,
    complete_candidature,
    question_of,
    tiny_pdf_bytes,
)
from tests.factories import StaffFactory, UserFactory
from tests.utils import break_weasyprint, pdf_text

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ARRAS_REF_POL = "claire.dupont@arras.exemple.test"
ARRAS_REF_TECH = "julien.martin@arras.exemple.test"
DEADLINE_PASSED = (
    "La date limite de dépôt (12 mars 2021 à 23 h 59 Paris) est dépassée : "
    "le dossier ne peut plus être déposé."
)
BAD_TYPE = (
    "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, quel que soit son nom."
)


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


def paris(*args):
    return datetime(*args, tzinfo=PARIS)


def words(text: str) -> str:
    return " ".join(text.split())


def events(candidature):
    return list(
        candidature.evenements.order_by("pk").values_list(
            "nature", "statut_avant", "statut_apres", "actor", "detail"
        )
    )


def pdf_upload(name="lettre.pdf", text="Lettre de motivation"):
    return SimpleUploadedFile(name, tiny_pdf_bytes(text), content_type="application/pdf")


PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


# ---------------------------------------------------------------------------------------------
# create_candidature


def test_create_candidature_makes_draft_access_and_event(arras):
    appel = AppelFactory()
    user = UserFactory()

    candidature = services.create_candidature(appel=appel, collectivite=arras, user=user)

    candidature.refresh_from_db()
    assert (candidature.appel, candidature.collectivite) == (appel, arras)
    assert (candidature.statut, candidature.numero, candidature.deposee_at) == (
        Candidature.Statut.BROUILLON,
        "",
        None,
    )
    assert list(candidature.acces.values_list("user", "role", "invited_by")) == [
        (user.pk, AccesCandidature.Role.CREATEUR, None)
    ]
    assert events(candidature) == [
        (Evenement.Nature.CREATION, "", Candidature.Statut.BROUILLON, user.pk, "Arras")
    ]


def test_create_candidature_twice_raises_exists_with_the_first(arras):
    appel = AppelFactory()
    first = services.create_candidature(appel=appel, collectivite=arras, user=UserFactory())
    other_user = UserFactory()

    with pytest.raises(services.CandidatureExists) as raised:
        services.create_candidature(appel=appel, collectivite=arras, user=other_user)

    assert raised.value.candidature == first
    assert raised.value.messages == [
        "Arras a déjà un dossier de candidature pour cet appel. Vous pouvez demander à ses "
        "référent·es de vous y inviter."
    ]
    assert isinstance(raised.value, ValidationError)
    assert Candidature.objects.filter(appel=appel).count() == 1
    assert not AccesCandidature.objects.filter(user=other_user).exists()


def test_create_candidature_same_collectivite_other_appel_is_allowed(arras):
    services.create_candidature(appel=AppelFactory(), collectivite=arras, user=UserFactory())

    candidature = services.create_candidature(
        appel=AppelFactory(), collectivite=arras, user=UserFactory()
    )

    assert Candidature.objects.filter(collectivite=arras).count() == 2
    assert candidature.statut == Candidature.Statut.BROUILLON


def test_create_candidature_refuses_interregional_epci_with_the_reason():
    appel = AppelFactory(epci_interregionaux_eligibles=False)
    villes_soeurs = Collectivite.objects.get(siren="247600588")

    with pytest.raises(ValidationError) as raised:
        services.create_candidature(appel=appel, collectivite=villes_soeurs, user=UserFactory())

    assert raised.value.messages == [
        "Cette intercommunalité s'étend hors des Hauts-de-France : elle n'est pas éligible à "
        "cet appel."
    ]
    assert Candidature.objects.count() == 0


def test_create_candidature_accepts_interregional_epci_when_the_appel_does():
    appel = AppelFactory(epci_interregionaux_eligibles=True)
    villes_soeurs = Collectivite.objects.get(siren="247600588")

    candidature = services.create_candidature(
        appel=appel, collectivite=villes_soeurs, user=UserFactory()
    )

    assert candidature.collectivite == villes_soeurs


def test_create_candidature_refuses_a_closed_appel(appel_2021, arras):
    with (
        time_machine.travel(paris(2021, 3, 13, 0, 0, 0), tick=False),
        pytest.raises(ValidationError) as raised,
    ):
        services.create_candidature(appel=appel_2021, collectivite=arras, user=UserFactory())

    assert raised.value.messages == [
        "Cet appel est clos : il n'accepte plus de nouvelle candidature."
    ]
    assert Candidature.objects.count() == 0


def test_create_candidature_refuses_an_appel_not_yet_open(appel_2021, arras):
    with (
        time_machine.travel(paris(2020, 12, 9, 23, 59, 59), tick=False),
        pytest.raises(ValidationError) as raised,
    ):
        services.create_candidature(appel=appel_2021, collectivite=arras, user=UserFactory())

    assert raised.value.messages == [
        "Cet appel n'est pas encore ouvert : les candidatures seront possibles à partir du "
        "10 décembre 2020 à 0 h 00."
    ]


def test_create_candidature_accepts_the_last_second(appel_2021, arras):
    with time_machine.travel(paris(2021, 3, 12, 23, 59, 59), tick=False):
        candidature = services.create_candidature(
            appel=appel_2021, collectivite=arras, user=UserFactory()
        )

    assert candidature.statut == Candidature.Statut.BROUILLON


def test_create_candidature_refuses_an_unpublished_appel(arras):
    with pytest.raises(ValidationError) as raised:
        services.create_candidature(
            appel=AppelFactory(est_publie=False), collectivite=arras, user=UserFactory()
        )

    assert raised.value.messages == [
        "Cet appel n'est pas publié : il n'accepte pas de candidature."
    ]


# ---------------------------------------------------------------------------------------------
# submit_candidature: the happy path


def test_submit_candidature_numbers_freezes_and_mails_the_receipt(
    appel_2021, technicien, on_commit, mailoutbox
):
    candidature = complete_candidature(appel=appel_2021, createur=technicien)
    letter = candidature.pieces.get()
    now = paris(2021, 3, 1, 14, 30, 5)

    with on_commit():
        depot = submission.submit_candidature(candidature=candidature, user=technicien, now=now)

    candidature.refresh_from_db()
    depot.refresh_from_db()  # the receipt is filed by its task, run on commit
    assert (candidature.statut, candidature.numero, candidature.deposee_at) == (
        Candidature.Statut.DEPOSEE,
        "AMI-2021-001",
        now,
    )
    assert list(Depot.objects.values_list("candidature", "version", "submitted_at")) == [
        (candidature.pk, 1, now)
    ]
    assert (depot.version, depot.submitted_by) == (1, technicien)

    contenu = depot.contenu
    assert contenu["numero"] == "AMI-2021-001"
    assert contenu["version"] == 1
    assert contenu["submitted_at"] == "2021-03-01T14:30:05+01:00"
    assert contenu["submitted_by"] == {"email": ARRAS_REF_TECH, "nom": technicien.get_full_name()}
    assert contenu["collectivite"] == {
        "nom": "Arras",
        "nature": "commune",
        "nature_libelle": "Commune",
        "type_epci": "",
        "insee": "62041",
        "siren": "216200410",
        "departement": "62",
    }
    assert [section["titre"] for section in contenu["sections"]] == [
        "Coordonnées",
        "Référent·es",
        "Motivations et projet",
        "Engagements",
    ]
    assert contenu["sections"][2]["reponses"][0] == {
        "champ": "motivations",
        "question": question_of(candidature.appel_id, "motivations").pk,
        "type": "texte_long",
        "groupe": "",
        "libelle": (
            "Motivations de la collectivité à s'engager dans ce cycle (parcours, objectifs, "
            "regard sur la participation citoyenne et le développement durable…)"
        ),
        "valeur": answer_of(candidature, "motivations"),
    }
    assert contenu["sections"][1]["reponses"][2] == {
        "champ": "ref_pol_email",
        "groupe": "Référent·e politique (élu·e)",
        "libelle": "E-mail",
        "valeur": ARRAS_REF_POL,
    }
    assert [answer["valeur"] for answer in contenu["sections"][3]["reponses"]] == [
        "Oui",
        "Oui",
        "Oui",
    ]
    assert contenu["pieces"] == [
        {
            "id": letter.pk,
            "question": letter.question_id,
            "nature": "lettre",
            "nature_libelle": "Lettre de motivation",
            "nom": "lettre-de-motivation.pdf",
            "type": "application/pdf",
            "taille": letter.taille,
            "sha256": letter.sha256,
        }
    ]

    assert depot.recu.name.startswith(f"recus/{appel_2021.slug}/AMI-2021-001-v1-")
    assert depot.recu.name.endswith(".pdf")
    with depot.recu.open("rb") as handle:
        pdf = handle.read()
    assert depot.recu_sha256 == hashlib.sha256(pdf).hexdigest()
    text = pdf_text(pdf)
    assert "Arras" in text
    assert "AMI-2021-001" in text
    assert words(answer_of(candidature, "motivations").splitlines()[0]) in text
    assert letter.sha256 in text

    assert events(candidature) == [
        (
            Evenement.Nature.DEPOT,
            Candidature.Statut.BROUILLON,
            Candidature.Statut.DEPOSEE,
            technicien.pk,
            "Dépôt n° AMI-2021-001",
        )
    ]
    assert candidature.evenements.get().at == now

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [ARRAS_REF_POL, ARRAS_REF_TECH]
    assert message.subject == "Accusé de réception — AMI-2021-001 — Arras"
    assert message.reply_to == ["amontaigne@cerdd.org"]
    assert "Numéro du dossier : AMI-2021-001" in message.body
    assert "Déposé le : 1er mars 2021 à 14 h 30 (heure de Paris)" in message.body
    assert "Le Cerdd répondra à chaque collectivité candidate le 15 avril 2021." in message.body
    assert "La première journée du cycle aura lieu le 18 mai 2021 à Loos-en-Gohelle" in (
        message.body
    )
    assert f"{settings.SITE_URL}/candidature/{candidature.pk}/" in message.body
    assert [(name, mime) for name, _content, mime in message.attachments] == [
        ("accuse-de-reception-AMI-2021-001-v1.pdf", "application/pdf")
    ]
    assert message.attachments[0].content == pdf
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert "AMI-2021-001" in html


def test_submit_candidature_numbers_the_next_dossier_of_the_appel(appel_2021, on_commit):
    first = complete_candidature(appel=appel_2021)
    second = complete_candidature(appel=appel_2021)
    other_appel_dossier = complete_candidature(
        appel=AppelFactory(edition_2021=True, prefixe_numero="AUTRE")
    )
    now = paris(2021, 3, 2, 10, 0)

    with on_commit():
        submission.submit_candidature(candidature=first, user=None, now=now)
        submission.submit_candidature(candidature=second, user=None, now=now)
        submission.submit_candidature(candidature=other_appel_dossier, user=None, now=now)

    assert first.collectivite != second.collectivite
    assert list(
        Candidature.objects.filter(appel=appel_2021)
        .order_by("numero")
        .values_list("collectivite", "numero")
    ) == [(first.collectivite_id, "AMI-2021-001"), (second.collectivite_id, "AMI-2021-002")]
    assert Candidature.objects.get(pk=other_appel_dossier.pk).numero == "AUTRE-001"


def test_submit_candidature_updates_the_callers_instance(appel_2021):
    candidature = complete_candidature(appel=appel_2021)

    submission.submit_candidature(candidature=candidature, user=None, now=paris(2021, 3, 2, 10, 0))

    assert (candidature.statut, candidature.numero) == (
        Candidature.Statut.DEPOSEE,
        "AMI-2021-001",
    )


def test_submit_candidature_mails_nothing_when_rolled_back(appel_2021, on_commit, mailoutbox):
    candidature = complete_candidature(appel=appel_2021)

    def submit_then_fail():
        with transaction.atomic():
            submission.submit_candidature(
                candidature=candidature, user=None, now=paris(2021, 3, 2, 10, 0)
            )
            raise RuntimeError("the caller's transaction fails after the submission")

    with on_commit(), pytest.raises(RuntimeError):
        submit_then_fail()

    assert mailoutbox == []
    assert Depot.objects.count() == 0
    assert Candidature.objects.get(pk=candidature.pk).statut == Candidature.Statut.BROUILLON


# ---------------------------------------------------------------------------------------------
# submit_candidature: numbering from the appel's counter, receipt after the commit


def test_submit_candidature_numbers_from_the_appel_counter(appel_2021, on_commit):
    first = complete_candidature(appel=appel_2021)
    second = complete_candidature(appel=appel_2021)

    with on_commit():
        submission.submit_candidature(candidature=first, user=None, now=paris(2021, 3, 1, 9, 0))
        submission.submit_candidature(candidature=second, user=None, now=paris(2021, 3, 1, 9, 5))
        submission.reopen_candidature(candidature=first, user=None, now=paris(2021, 3, 2, 9, 0))
        submission.submit_candidature(candidature=first, user=None, now=paris(2021, 3, 2, 9, 5))

    appel_2021.refresh_from_db()
    assert appel_2021.dernier_numero == 2
    assert list(
        Candidature.objects.filter(appel=appel_2021).order_by("pk").values_list("pk", "numero")
    ) == [(first.pk, "AMI-2021-001"), (second.pk, "AMI-2021-002")]
    assert list(first.depots.order_by("version").values_list("version", "contenu__numero")) == [
        (1, "AMI-2021-001"),
        (2, "AMI-2021-001"),
    ]


def test_submit_candidature_goes_on_from_the_counter_not_from_the_dossiers(appel_2021):
    # Numbers handed out before (a seed, an import) are counted in dernier_numero.
    Appel.objects.filter(pk=appel_2021.pk).update(dernier_numero=41)
    candidature = complete_candidature(appel=appel_2021)

    submission.submit_candidature(candidature=candidature, user=None, now=paris(2021, 3, 1, 9, 0))

    assert Candidature.objects.get(pk=candidature.pk).numero == "AMI-2021-042"
    assert Appel.objects.get(pk=appel_2021.pk).dernier_numero == 42


def test_migration_sets_the_counter_to_the_highest_numero_of_each_appel(appel_2021):
    migration = importlib.import_module(
        "candidatures.migrations.0007_set_dernier_numero_from_numeros"
    )
    other = AppelFactory(edition_2021=True, prefixe_numero="AUTRE")
    empty = AppelFactory(edition_2021=True, prefixe_numero="VIDE")
    for appel, numero in [
        (appel_2021, "AMI-2021-003"),
        (appel_2021, "AMI-2021-012"),
        (appel_2021, "AMI-2021-bis"),
        (appel_2021, ""),
        (other, "AUTRE-007"),
    ]:
        candidature = CandidatureFactory(appel=appel)
        Candidature.objects.filter(pk=candidature.pk).update(numero=numero)

    migration.set_dernier_numero_from_numeros(django_apps, None)

    assert dict(
        Appel.objects.filter(pk__in=[appel_2021.pk, other.pk, empty.pk]).values_list(
            "prefixe_numero", "dernier_numero"
        )
    ) == {"AMI-2021": 12, "AUTRE": 7, "VIDE": 0}


def test_submit_candidature_records_the_deposit_when_the_receipt_fails_then_emettre_recus(
    appel_2021, technicien, on_commit, mailoutbox, monkeypatch, caplog
):
    candidature = complete_candidature(appel=appel_2021, createur=technicien)
    break_weasyprint(monkeypatch)
    with on_commit():
        depot = submission.submit_candidature(
            candidature=candidature, user=technicien, now=paris(2021, 3, 1, 14, 30, 5)
        )

    candidature.refresh_from_db()
    assert (candidature.statut, candidature.numero) == (
        Candidature.Statut.DEPOSEE,
        "AMI-2021-001",
    )
    assert list(Depot.objects.values_list("pk", "version", "recu", "recu_sha256")) == [
        (depot.pk, 1, "", "")
    ]
    assert [row[0] for row in events(candidature)] == [Evenement.Nature.DEPOT]
    assert mailoutbox == []
    assert [
        (r.name, r.getMessage().rsplit(" ", 2)[-2:])
        for r in caplog.records
        if r.levelno >= logging.ERROR
    ] == [
        (
            "django.tasks",
            ["path=candidatures.dossiers.submission.issue_receipt_task", "state=FAILED"],
        )
    ]

    monkeypatch.undo()
    first_run, second_run = io.StringIO(), io.StringIO()
    with on_commit():
        call_command("emettre_recus", stdout=first_run)
    with on_commit():
        call_command("emettre_recus", stdout=second_run)

    assert first_run.getvalue() == "Accusés de réception émis : 1\n"
    assert second_run.getvalue() == "Accusés de réception émis : 0\n"
    depot.refresh_from_db()
    assert depot.recu.name.startswith(f"recus/{appel_2021.slug}/AMI-2021-001-v1-")
    with depot.recu.open("rb") as handle:
        pdf = handle.read()
    assert depot.recu_sha256 == hashlib.sha256(pdf).hexdigest()
    text = pdf_text(pdf)
    assert "AMI-2021-001" in text
    assert "Arras" in text
    assert words(answer_of(candidature, "motivations").splitlines()[0]) in text
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert (message.to, message.subject) == (
        [ARRAS_REF_POL, ARRAS_REF_TECH],
        "Accusé de réception — AMI-2021-001 — Arras",
    )
    assert [(a.filename, a.content, a.mimetype) for a in message.attachments] == [
        ("accuse-de-reception-AMI-2021-001-v1.pdf", pdf, "application/pdf")
    ]


def test_emettre_recus_leaves_a_fresh_deposit_to_its_own_request(
    appel_2021, technicien, on_commit, mailoutbox, monkeypatch, caplog
):
    candidature = complete_candidature(appel=appel_2021, createur=technicien)
    break_weasyprint(monkeypatch)
    submitted_at = paris(2021, 3, 1, 14, 30, 5)
    with on_commit():
        depot = submission.submit_candidature(
            candidature=candidature, user=technicien, now=submitted_at
        )
    monkeypatch.undo()

    runs = []
    for delay in (timedelta(minutes=4, seconds=59), timedelta(minutes=5)):
        output = io.StringIO()
        with time_machine.travel(submitted_at + delay, tick=False), on_commit():
            call_command("emettre_recus", stdout=output)
        depot.refresh_from_db()
        runs.append((output.getvalue(), bool(depot.recu), len(mailoutbox)))

    assert runs == [
        ("Accusés de réception émis : 0\n", False, 0),
        ("Accusés de réception émis : 1\n", True, 1),
    ]


def test_issue_receipt_twice_stores_and_mails_once(appel_2021, on_commit, mailoutbox):
    candidature = complete_candidature(appel=appel_2021)
    with on_commit():
        depot = submission.submit_candidature(
            candidature=candidature, user=None, now=paris(2021, 3, 1, 9, 0)
        )
    depot.refresh_from_db()
    name, sent_at = depot.recu.name, depot.recu_envoye_at
    stale = Depot.objects.get(pk=depot.pk)
    stale.recu, stale.recu_sha256 = "", ""  # as read by a second issuer before the first saved

    with on_commit():
        submission.file_receipt(depot=stale)
        again = submission.issue_receipt(depot_id=depot.pk)

    depot.refresh_from_db()
    assert (stale.recu.name, depot.recu.name, depot.recu_envoye_at) == (name, name, sent_at)
    assert again is False
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_submissions_of_one_call_do_not_wait_for_each_others_receipt(monkeypatch, mailoutbox):
    appel = AppelFactory(edition_2021=True)
    slow_dossier = complete_candidature(appel=appel)
    fast_dossier = complete_candidature(appel=appel)
    now = paris(2021, 3, 1, 9, 0)
    rendering, release = threading.Event(), threading.Event()
    real_write_pdf = weasyprint.HTML.write_pdf

    def write_pdf_paused_in_the_slow_thread(self, *args, **kwargs):
        if threading.current_thread().name == "slow":
            rendering.set()
            release.wait(60)
        return real_write_pdf(self, *args, **kwargs)

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf_paused_in_the_slow_thread)
    results = {}

    def submit(candidature):
        name = threading.current_thread().name
        try:
            results[name] = submission.submit_candidature(
                candidature=candidature, user=None, now=now
            )
        except Exception as error:  # re-raised below, in the test's thread
            results[name] = error
        finally:
            connection.close()

    slow = threading.Thread(target=submit, args=(slow_dossier,), name="slow")
    fast = threading.Thread(target=submit, args=(fast_dossier,), name="fast")
    slow.start()
    try:
        assert rendering.wait(60)
        # While the first receipt renders, the call's row is free...
        with transaction.atomic():
            assert Appel.objects.select_for_update(nowait=True).get(pk=appel.pk) == appel
        # ...and another dossier of the call is submitted, receipt included, meanwhile.
        fast.start()
        fast.join(60)
        assert (fast.is_alive(), sorted(results)) == (False, ["fast"])
    finally:
        release.set()
        slow.join(60)

    for outcome in results.values():
        if isinstance(outcome, Exception):
            raise outcome
    assert sorted(results) == ["fast", "slow"]
    assert list(
        Candidature.objects.filter(appel=appel)
        .order_by("numero")
        .values_list("pk", "numero", "statut")
    ) == [
        (slow_dossier.pk, "AMI-2021-001", Candidature.Statut.DEPOSEE),
        (fast_dossier.pk, "AMI-2021-002", Candidature.Statut.DEPOSEE),
    ]
    assert Depot.objects.filter(recu="").count() == 0
    assert sorted(message.subject.split(" — ")[1] for message in mailoutbox) == [
        "AMI-2021-001",
        "AMI-2021-002",
    ]


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


# ---------------------------------------------------------------------------------------------
# add_piece and delete_piece


def test_add_piece_stores_the_file_and_its_fingerprint():
    candidature = CandidatureFactory()
    user = UserFactory()
    content = tiny_pdf_bytes("Notre lettre")
    upload = SimpleUploadedFile(
        "C:\\Users\\mairie\\Documents\\Lettre de motivation.pdf", content, "application/pdf"
    )

    piece = services.add_piece(
        candidature=candidature,
        user=user,
        question=question_of(candidature.appel_id, "lettre"),
        uploaded_file=upload,
    )

    piece.refresh_from_db()
    assert (piece.nom_original, piece.type_mime, piece.taille, piece.sha256) == (
        "Lettre de motivation.pdf",
        "application/pdf",
        len(content),
        hashlib.sha256(content).hexdigest(),
    )
    assert (piece.candidature, piece.question.code, piece.uploaded_by) == (
        candidature,
        "lettre",
        user,
    )
    assert piece.fichier.name.startswith(f"dossiers/{candidature.appel.slug}/")
    with piece.fichier.open("rb") as handle:
        assert handle.read() == content


def test_add_piece_refuses_a_disguised_file():
    candidature = CandidatureFactory()
    upload = SimpleUploadedFile(
        "lettre.pdf", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 200, "application/pdf"
    )

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=upload,
        )

    assert raised.value.messages == [BAD_TYPE]
    assert PieceJointe.objects.count() == 0


def test_add_piece_refuses_an_oversized_file():
    candidature = CandidatureFactory(appel=AppelFactory(taille_max_fichier_mo=1))
    upload = SimpleUploadedFile(
        "lettre.pdf", b"%PDF-1.7\n" + b"0" * (1536 * 1024 - 9), "application/pdf"
    )

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=upload,
        )

    # Django's French filesizeformat says « Mio », with a no-break space.
    assert raised.value.messages == [
        "Le fichier pèse 1,5\u00a0Mio : la limite est de 1,0\u00a0Mio par fichier."
    ]
    assert PieceJointe.objects.count() == 0


def test_add_piece_second_letter_replaces_the_first(on_commit):
    candidature = CandidatureFactory()
    user = UserFactory()
    first = services.add_piece(
        candidature=candidature,
        user=user,
        question=question_of(candidature.appel_id, "lettre"),
        uploaded_file=pdf_upload("premiere.pdf", "Première lettre"),
    )
    storage, first_name = first.fichier.storage, first.fichier.name
    assert storage.exists(first_name)

    with on_commit():
        second = services.add_piece(
            candidature=candidature,
            user=user,
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=pdf_upload("seconde.pdf", "Seconde lettre"),
        )

    assert list(candidature.pieces.values_list("pk", "question__code", "nom_original")) == [
        (second.pk, "lettre", "seconde.pdf")
    ]
    assert not storage.exists(first_name)
    assert storage.exists(second.fichier.name)


def test_add_piece_accepts_images_only_as_supporting_documents():
    candidature = CandidatureFactory()
    user = UserFactory()

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=user,
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=SimpleUploadedFile("lettre.png", PNG_BYTES, "image/png"),
        )
    piece = services.add_piece(
        candidature=candidature,
        user=user,
        question=question_of(candidature.appel_id, "complement"),
        uploaded_file=SimpleUploadedFile("photo-atelier.png", PNG_BYTES, "image/png"),
    )

    assert raised.value.messages == [BAD_TYPE]
    assert list(candidature.pieces.values_list("pk", "question__code", "type_mime")) == [
        (piece.pk, "complement", "image/png")
    ]


def test_add_piece_respects_the_dossier_total():
    candidature = CandidatureFactory(
        appel=AppelFactory(taille_max_fichier_mo=1, taille_max_dossier_mo=2)
    )
    user = UserFactory()
    one_mb = b"%PDF-1.7\n" + b"0" * (1024 * 1024 - 9)

    def add(nature, name, content):
        return services.add_piece(
            candidature=candidature,
            user=user,
            question=question_of(candidature.appel_id, nature),
            uploaded_file=SimpleUploadedFile(name, content, "application/pdf"),
        )

    add(PieceJointe.Nature.LETTRE_MOTIVATION, "lettre.pdf", one_mb)
    add(PieceJointe.Nature.COMPLEMENTAIRE, "annexe-1.pdf", one_mb)
    with pytest.raises(ValidationError) as raised:
        add(PieceJointe.Nature.COMPLEMENTAIRE, "annexe-2.pdf", b"%PDF-1.7\n" + b"0" * 100)
    # Replacing the letter frees its own room first.
    add(PieceJointe.Nature.LETTRE_MOTIVATION, "lettre-v2.pdf", one_mb)

    assert raised.value.messages == [
        "Ce fichier dépasserait la taille totale autorisée pour le dossier (il reste 0\u00a0octet)."
    ]
    assert sorted(candidature.pieces.values_list("nom_original", flat=True)) == [
        "annexe-1.pdf",
        "lettre-v2.pdf",
    ]


def test_add_piece_refused_once_submitted():
    candidature = complete_candidature(appel=AppelFactory())
    submission.submit_candidature(candidature=candidature, user=None)

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "complement"),
            uploaded_file=pdf_upload("annexe.pdf"),
        )

    assert raised.value.messages == ["Ce dossier ne peut plus être modifié."]
    assert candidature.pieces.count() == 1


def test_add_piece_refused_after_the_deadline(appel_2021):
    candidature = CandidatureFactory(appel=appel_2021)

    with pytest.raises(ValidationError) as raised:
        services.add_piece(
            candidature=candidature,
            user=UserFactory(),
            question=question_of(candidature.appel_id, "lettre"),
            uploaded_file=pdf_upload(),
        )

    assert raised.value.messages == ["Ce dossier ne peut plus être modifié."]


def test_delete_piece_removes_row_and_file(on_commit):
    candidature = CandidatureFactory()
    piece = services.add_piece(
        candidature=candidature,
        user=UserFactory(),
        question=question_of(candidature.appel_id, "complement"),
        uploaded_file=pdf_upload("annexe.pdf"),
    )
    storage, name = piece.fichier.storage, piece.fichier.name

    with on_commit():
        services.delete_piece(piece=piece, user=UserFactory())

    assert candidature.pieces.count() == 0
    assert not storage.exists(name)


def test_delete_piece_refused_once_submitted(on_commit):
    candidature = complete_candidature(appel=AppelFactory())
    submission.submit_candidature(candidature=candidature, user=None)
    letter = candidature.pieces.get()

    with on_commit(), pytest.raises(ValidationError) as raised:
        services.delete_piece(piece=letter, user=None)

    assert raised.value.messages == ["Ce dossier ne peut plus être modifié."]
    assert candidature.pieces.count() == 1
    assert letter.fichier.storage.exists(letter.fichier.name)


# ---------------------------------------------------------------------------------------------
# invite_coreferent and request_access


def test_invite_coreferent_gives_access_and_mails_a_sign_in_link(on_commit, mailoutbox):
    inviter = UserFactory(first_name="Julien", last_name="Martin")
    candidature = CandidatureFactory(createur=inviter)

    with on_commit():
        access = services.invite_coreferent(
            candidature=candidature, email="  Claire.Dupont@Arras.Exemple.TEST ", invited_by=inviter
        )

    invitee = User.objects.get(email="claire.dupont@arras.exemple.test")
    assert not invitee.has_usable_password()
    assert not invitee.is_staff
    assert (access.candidature, access.user, access.role, access.invited_by) == (
        candidature,
        invitee,
        AccesCandidature.Role.INVITE,
        inviter,
    )
    assert list(
        candidature.acces.order_by("pk").values_list("user__email", "role", "invited_by")
    ) == [
        (inviter.email, "createur", None),
        ("claire.dupont@arras.exemple.test", "invite", inviter.pk),
    ]
    assert events(candidature) == [
        (Evenement.Nature.INVITATION, "", "", inviter.pk, "claire.dupont@arras.exemple.test")
    ]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["claire.dupont@arras.exemple.test"]
    assert message.reply_to == [inviter.email]
    assert message.subject == "Invitation à rejoindre le dossier de candidature d'Arras — Cerdd"
    assert f"Julien Martin ({inviter.email}) vous invite" in message.body
    assert f"{settings.SITE_URL}/connexion/lien/?jeton=" in message.body
    assert f"next=/candidature/{candidature.pk}/" in message.body


def test_invite_coreferent_twice_keeps_one_access_and_sends_again(on_commit, mailoutbox):
    inviter = UserFactory()
    invitee = UserFactory(email="deja.inscrite@exemple.test")
    candidature = CandidatureFactory(createur=inviter)

    with on_commit():
        first = services.invite_coreferent(
            candidature=candidature, email=invitee.email, invited_by=inviter
        )
        second = services.invite_coreferent(
            candidature=candidature, email="Deja.Inscrite@exemple.test", invited_by=inviter
        )

    assert first.pk == second.pk
    assert candidature.acces.filter(user=invitee).count() == 1
    assert User.objects.filter(email__iexact=invitee.email).count() == 1
    assert [m.to for m in mailoutbox] == [[invitee.email], [invitee.email]]


def test_invite_coreferent_refuses_staff(mailoutbox):
    inviter = UserFactory()
    staff = StaffFactory(email="agent@cerdd.test")
    candidature = CandidatureFactory(createur=inviter)

    with pytest.raises(ValidationError) as raised:
        services.invite_coreferent(
            candidature=candidature, email="AGENT@cerdd.test", invited_by=inviter
        )

    assert raised.value.messages == [
        "Cette adresse est celle d'un compte du Cerdd : elle ne peut pas être invitée sur un "
        "dossier de candidature."
    ]
    assert not candidature.acces.filter(user=staff).exists()
    assert mailoutbox == []


def test_invite_coreferent_refuses_an_invalid_address():
    candidature = CandidatureFactory()

    with pytest.raises(ValidationError) as raised:
        services.invite_coreferent(
            candidature=candidature, email="pas-une-adresse", invited_by=UserFactory()
        )

    assert raised.value.messages == ["Saisissez une adresse e-mail valide."]
    assert not User.objects.filter(email="pas-une-adresse").exists()


def test_request_access_mails_the_referents_and_grants_nothing(technicien, on_commit, mailoutbox):
    candidature = complete_candidature(createur=technicien)

    with on_commit():
        services.request_access(candidature=candidature, requester_email="Nouvelle@Exemple.test")

    assert list(candidature.acces.values_list("user", flat=True)) == [technicien.pk]
    assert not User.objects.filter(email__iexact="nouvelle@exemple.test").exists()
    assert events(candidature) == [
        (Evenement.Nature.DEMANDE_ACCES, "", "", None, "nouvelle@exemple.test")
    ]
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == [ARRAS_REF_POL, ARRAS_REF_TECH]
    assert message.subject == "Demande d'accès au dossier de candidature d'Arras — Cerdd"
    assert "nouvelle@exemple.test souhaite rejoindre le dossier" in message.body
    assert f"{settings.SITE_URL}/candidature/{candidature.pk}/" in message.body
    # Nothing of the dossier travels in this mail: the requester may be anyone.
    assert answer_of(candidature, "motivations").splitlines()[0] not in message.body
