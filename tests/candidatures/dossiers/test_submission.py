"""Submitting a dossier (candidatures.dossiers.submission): the happy path, numbering from the
appel's counter, the receipt after the commit and its retry by emettre_recus.
"""

import hashlib
import importlib
import io
import logging
import threading
from datetime import timedelta

import pytest
import time_machine
import weasyprint
from django.apps import apps as django_apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from candidatures.dossiers import submission
from candidatures.models import Appel, Candidature, Depot, Evenement
from tests.candidatures.dossiers.services_helpers import (
    ARRAS_REF_POL,
    ARRAS_REF_TECH,
    events,
    paris,
    words,
)
from tests.candidatures.factories import (
    AppelFactory,
    CandidatureFactory,
    answer_of,
    complete_candidature,
    question_of,
)
from tests.utils import break_weasyprint, pdf_text

pytestmark = pytest.mark.django_db


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
