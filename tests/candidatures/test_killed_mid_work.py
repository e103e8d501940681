"""A process killed with SIGKILL in the middle of a deposit or a publication leaves the whole
change or none of it, and the next run or retry sends what was to be sent, once."""

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from candidatures.decisions import letters
from candidatures.dossiers import submission
from candidatures.models import (
    Appel,
    Candidature,
    Decision,
    Depot,
    EnvoiCourrier,
    Evenement,
    Issue,
)
from cerdd_ami.permissions import sync_role_permissions
from cycle.models import EntreeJournal
from tests.candidatures.decisions.decisions_helpers import decide, deposee
from tests.candidatures.factories import AppelFactory, complete_candidature
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import UserFactory, charge_de_mission
from tests.fault_hooks import delivered

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def run_killable(spec: dict, *, kill: str, mail_dir: Path, settings) -> int:
    """Run tests.fault_hooks on this test's database; returns its exit code (-9 if killed)."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"postgres://{db['USER']}@{quote(str(db['HOST']), safe='')}/{db['NAME']}",
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "FAULT_MAIL_DIR": str(mail_dir),
        "FAULT_KILL": kill,
    }
    result = subprocess.run(
        [sys.executable, "-m", "tests.fault_hooks", json.dumps(spec)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode in (0, -signal.SIGKILL), result.stderr
    return result.returncode


@pytest.fixture
def mail_dir(tmp_path):
    path = tmp_path / "serveur-mail"
    path.mkdir()
    return path


@pytest.fixture
def dossier():
    user = UserFactory(email="julien.martin@arras.exemple.test")
    candidature = complete_candidature(appel=AppelFactory(), createur=user)
    return candidature, user


def _deposit_state(candidature):
    candidature.refresh_from_db()
    return (
        candidature.statut,
        candidature.numero,
        Depot.objects.filter(candidature=candidature).count(),
        Evenement.objects.filter(candidature=candidature, nature=Evenement.Nature.DEPOT).count(),
        Appel.objects.get(pk=candidature.appel_id).dernier_numero,
    )


def test_deposit_killed_inside_its_transaction_leaves_nothing(dossier, mail_dir, settings):
    candidature, user = dossier
    before = _deposit_state(candidature)

    code = run_killable(
        {"action": "submit", "candidature": candidature.pk, "user": user.pk},
        kill='sql:INSERT INTO "candidatures_evenement"',
        mail_dir=mail_dir,
        settings=settings,
    )

    assert code == -signal.SIGKILL
    assert _deposit_state(candidature) == before
    assert before[0] == Candidature.Statut.BROUILLON
    assert delivered(mail_dir) == []


def test_deposit_killed_while_its_receipt_renders_is_whole_and_the_retry_mails_it_once(
    dossier, mail_dir, settings, mailoutbox
):
    candidature, user = dossier

    code = run_killable(
        {"action": "submit", "candidature": candidature.pk, "user": user.pk},
        kill="pdf",
        mail_dir=mail_dir,
        settings=settings,
    )

    assert code == -signal.SIGKILL
    numero = f"{candidature.appel.prefixe_numero}-001"
    assert _deposit_state(candidature) == (Candidature.Statut.DEPOSEE, numero, 1, 1, 1)
    assert Depot.objects.get(candidature=candidature).recu == ""
    assert delivered(mail_dir) == []

    later = timezone.now() + submission.RECEIPT_GRACE + timedelta(seconds=1)
    assert submission.issue_missing_receipts(now=later) == 1
    assert submission.issue_missing_receipts(now=later) == 0

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == candidature.referent_emails()
    assert [name for name, _, _ in mailoutbox[0].attachments] == [
        f"accuse-de-reception-{numero}-v1.pdf"
    ]


def test_publication_killed_after_some_letters_sent_rerun_sends_the_rest_none_twice(
    mail_dir, settings
):
    sync_role_permissions()
    staff = charge_de_mission(email="charge@cerdd.test")
    appel = AppelFactory(edition_2021=True, slug="2021", places=12)
    applicant = UserFactory(email="julien.martin@arras.exemple.test")
    dossiers = [deposee(appel, 1, createur=applicant), deposee(appel, 2), deposee(appel, 3)]
    issues = [Issue.RETENUE, Issue.LISTE_ATTENTE, Issue.NON_RETENUE]
    for dossier, issue in zip(dossiers, issues, strict=True):
        decide(dossier, issue, staff)
    spec = {"action": "publish", "appel": "2021"}

    assert run_killable(spec, kill="mail:3", mail_dir=mail_dir, settings=settings) == -9

    assert len(delivered(mail_dir)) == 2
    assert EnvoiCourrier.objects.filter(statut=EnvoiCourrier.Statut.ENVOYE).count() == 2

    assert run_killable(spec, kill="", mail_dir=mail_dir, settings=settings) == 0

    envois = EnvoiCourrier.objects.select_related("courrier__decision__candidature__collectivite")
    expected = sorted(
        ([envoi.destinataire], letters.letter_filename(envoi.courrier.decision)) for envoi in envois
    )
    sent = sorted((message["to"], message["attachments"][0]) for message in delivered(mail_dir))
    assert len(expected) == 6
    assert sent == expected  # each letter to each référent·e, none twice
    assert (
        sorted((envoi.statut, envoi.tentatives) for envoi in EnvoiCourrier.objects.all())
        == [(EnvoiCourrier.Statut.ENVOYE, 1)] * 6
    )


def test_deposit_killed_as_its_receipt_is_mailed_the_retry_mails_it_once(
    dossier, mail_dir, settings, mailoutbox
):
    candidature, user = dossier

    code = run_killable(
        {"action": "submit", "candidature": candidature.pk, "user": user.pk},
        kill="mail:1",
        mail_dir=mail_dir,
        settings=settings,
    )

    assert code == -signal.SIGKILL
    depot = Depot.objects.get(candidature=candidature)
    assert depot.recu != ""  # filed and committed, but the e-mail never left
    assert depot.recu_envoye_at is None
    assert delivered(mail_dir) == []

    later = timezone.now() + submission.RECEIPT_GRACE + timedelta(seconds=1)
    assert submission.issue_missing_receipts(now=later) == 1
    assert submission.issue_missing_receipts(now=later) == 0

    numero = f"{candidature.appel.prefixe_numero}-001"
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == candidature.referent_emails()
    assert [(name, content) for name, content, _ in mailoutbox[0].attachments] == [
        (f"accuse-de-reception-{numero}-v1.pdf", depot.recu.read())
    ]
    depot.refresh_from_db()
    assert depot.recu_envoye_at == later


def test_decision_killed_before_its_history_row_leaves_no_decision(mail_dir, settings):
    sync_role_permissions()
    staff = charge_de_mission(email="charge@cerdd.test")
    appel = AppelFactory(edition_2021=True, slug="2021", places=12)
    dossier = deposee(appel, 1)
    spec = {
        "action": "decide",
        "candidature": dossier.pk,
        "issue": Issue.RETENUE,
        "motivation": "Une dynamique de transition portée par les élu·es.",
        "user": staff.pk,
    }

    code = run_killable(
        spec,
        kill='sql:INSERT INTO "candidatures_historicaldecision"',
        mail_dir=mail_dir,
        settings=settings,
    )

    assert code == -signal.SIGKILL
    assert Decision.objects.filter(candidature=dossier).count() == 0
    assert Decision.history.filter(candidature_id=dossier.pk).count() == 0

    assert run_killable(spec, kill="", mail_dir=mail_dir, settings=settings) == 0
    decision = Decision.objects.get(candidature=dossier)
    assert (decision.issue, decision.history.count()) == (Issue.RETENUE, 1)


def test_journal_entry_killed_before_its_history_row_leaves_no_entry(mail_dir, settings):
    auteur = UserFactory(email="claire@arras.test")
    participant = ParticipantFactory(cycle=CycleFactory(), createur=auteur)
    spec = {
        "action": "journal",
        "participant": participant.pk,
        "user": auteur.pk,
        "texte": "La boussole de la participation.",
    }

    code = run_killable(
        spec,
        kill='sql:INSERT INTO "cycle_historicalentreejournal"',
        mail_dir=mail_dir,
        settings=settings,
    )

    assert code == -signal.SIGKILL
    assert EntreeJournal.objects.filter(participant=participant).count() == 0
    assert EntreeJournal.history.count() == 0

    assert run_killable(spec, kill="", mail_dir=mail_dir, settings=settings) == 0
    entree = EntreeJournal.objects.get(participant=participant)
    assert (entree.points_forts, entree.history.count()) == ("La boussole de la participation.", 1)
