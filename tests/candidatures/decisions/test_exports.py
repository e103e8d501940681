"""Exports prepared by the worker: letters above LETTERS_PER_REQUEST (merged PDF, ZIP) and a
large call's procès-verbal; progress, one e-mail, scoped status and download views, failures
recorded and retried, reruns that start the file again, old exports purged."""

import io
import zipfile
from datetime import timedelta

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.db import connection
from django.tasks import TaskResultStatus
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from candidatures.decisions import exports, letters
from candidatures.models import Decision, Export, Issue
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.models import Tache
from tests.candidatures.decisions.decisions_helpers import decide, deposee
from tests.candidatures.factories import AppelFactory
from tests.conftest import run_worker
from tests.factories import UserFactory, charge_de_mission, juror
from tests.utils import break_weasyprint, page_text, pdf_text

pytestmark = pytest.mark.django_db

DECISIONS_URL = "/admin/candidatures/decision/"
EXPORTS_URL = "/admin/candidatures/export/"


@pytest.fixture
def appel():
    return AppelFactory(edition_2021=True, slug="2021", places=12)


@pytest.fixture
def staff():
    from cerdd_ami.permissions import sync_role_permissions

    sync_role_permissions()
    return charge_de_mission(email="charge@cerdd.test")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def decided(appel, staff, settings):
    """Three decisions, one more than the admin exports in a request."""
    settings.LETTERS_PER_REQUEST = 2
    dossiers = [deposee(appel, number) for number in (1, 2, 3)]
    for dossier, issue in zip(
        dossiers, [Issue.RETENUE, Issue.NON_RETENUE, Issue.RETENUE], strict=True
    ):
        decide(dossier, issue, staff)
    return list(Decision.objects.order_by("candidature__numero"))


def status_url(export):
    return f"{EXPORTS_URL}{export.pk}/statut/"


def download_url(export):
    return f"{EXPORTS_URL}{export.pk}/telecharger/"


def ask(client, action, decisions):
    return client.post(
        DECISIONS_URL,
        {"action": action, "_selected_action": [d.pk for d in decisions]},
        follow=True,
    )


def make_export(user, appel, **fields):
    fields.setdefault("total", 1)
    return Export.objects.create(
        requested_by=user, kind=Export.Kind.LETTRES_PDF, appel=appel, **fields
    )


# --- Letters above the limit ------------------------------------------------------------------


def test_merged_letters_above_the_limit_become_an_export_the_worker_prepares(
    database_queue, staff_client, staff, appel, decided, mailoutbox, settings
):
    response = ask(staff_client, "export_pdf", decided)

    export = Export.objects.get()
    assert response.redirect_chain == [(status_url(export), 302)]
    text = page_text(response)
    assert "Export en préparation : 0 / 3 courriers" in text
    assert (
        f'<a class="button" id="export-actualiser" href="{status_url(export)}">Actualiser' in text
    )
    assert "Télécharger" not in text
    assert (export.requested_by, export.kind, export.appel, export.statut) == (
        staff,
        Export.Kind.LETTRES_PDF,
        appel,
        Export.Statut.EN_ATTENTE,
    )
    assert export.parametres == {"decisions": [d.pk for d in decided]}
    assert list(Tache.objects.values_list("task_path", "args_kwargs")) == [
        (
            "candidatures.decisions.exports.build_export",
            {"args": [], "kwargs": {"export_id": export.pk}},
        )
    ]
    assert mailoutbox == []

    run_worker()

    export.refresh_from_db()
    assert (export.statut, export.fait, export.total, export.erreur) == (
        Export.Statut.PRET,
        3,
        3,
        "",
    )
    assert Tache.objects.get().status == TaskResultStatus.SUCCESSFUL
    with export.fichier.open("rb") as handle:
        text = pdf_text(handle.read())
    assert text.index("AMI-2021-001") < text.index("AMI-2021-002") < text.index("AMI-2021-003")
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["charge@cerdd.test"]
    assert message.subject == f"Export prêt : Courriers (PDF fusionné) — {appel.titre}"
    assert f"{settings.SITE_URL}{download_url(export)}" in message.body
    assert ", 3 courriers." in message.body

    page = page_text(staff_client.get(status_url(export)))
    assert "Export prêt : 3 courriers" in page
    assert f'id="export-telecharger" href="{download_url(export)}">Télécharger' in page
    download = staff_client.get(download_url(export))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith('attachment; filename="courriers-')
    with export.fichier.open("rb") as handle:
        assert b"".join(download.streaming_content) == handle.read()


def test_zip_of_letters_above_the_limit_holds_one_pdf_per_letter(
    staff_client, decided, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        ask(staff_client, "export_zip", decided)

    export = Export.objects.get()
    assert (export.kind, export.statut, export.fait, export.total) == (
        Export.Kind.LETTRES_ZIP,
        Export.Statut.PRET,
        3,
        3,
    )
    with export.fichier.open("rb") as handle:
        names = zipfile.ZipFile(io.BytesIO(handle.read())).namelist()
    assert names == [letters.letter_filename(decision) for decision in decided]
    assert len(mailoutbox) == 1
    download = staff_client.get(download_url(export))
    assert download["Content-Type"] == "application/zip"


def test_selection_within_the_limit_is_still_downloaded_at_once(staff_client, decided):
    response = staff_client.post(
        DECISIONS_URL, {"action": "export_pdf", "_selected_action": [decided[0].pk]}
    )

    assert response["Content-Type"] == "application/pdf"
    assert "AMI-2021-001" in pdf_text(response.content)
    assert Export.objects.count() == 0


def test_export_run_again_sends_nothing_twice(database_queue, staff, appel, decided, mailoutbox):
    export = exports.request_export(
        kind=Export.Kind.LETTRES_PDF,
        requested_by=staff,
        appel=appel,
        decision_ids=[d.pk for d in decided],
    )
    run_worker()
    name = Export.objects.get().fichier.name

    exports.build_export.enqueue(export_id=export.pk)
    run_worker()

    assert [task.return_value for task in Tache.objects.order_by("enqueued_at")] == [
        {"export": export.pk, "email": True},
        {"export": export.pk, "email": False},
    ]
    assert Export.objects.get().fichier.name == name
    assert len(mailoutbox) == 1


def test_export_whose_worker_died_starts_its_file_again(
    database_queue, staff, appel, decided, mailoutbox
):
    export = exports.request_export(
        kind=Export.Kind.LETTRES_ZIP,
        requested_by=staff,
        appel=appel,
        decision_ids=[d.pk for d in decided],
    )
    # What a worker killed mid-export leaves: « en cours », a partial file, some progress.
    storage = export.fichier.storage
    partial = storage.save("exports/partiel.zip", ContentFile(b"PK\x03\x04 moitie"))
    Export.objects.filter(pk=export.pk).update(
        statut=Export.Statut.EN_COURS, fichier=partial, fait=2
    )

    run_worker()

    export.refresh_from_db()
    assert not storage.exists(partial)
    assert (export.statut, export.fait) == (Export.Statut.PRET, 3)
    with export.fichier.open("rb") as handle:
        assert len(zipfile.ZipFile(io.BytesIO(handle.read())).namelist()) == 3
    assert len(mailoutbox) == 1


def test_export_failing_in_weasyprint_is_recorded_then_retried_by_the_worker(
    database_queue, staff, appel, decided, mailoutbox, monkeypatch, settings
):
    settings.TASKS_RETRY_DELAYS = [30]
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        exports.request_export(
            kind=Export.Kind.LETTRES_PDF,
            requested_by=staff,
            appel=appel,
            decision_ids=[d.pk for d in decided],
        )
        break_weasyprint(monkeypatch)
        run_worker()

        export = Export.objects.get()
        assert (export.statut, export.erreur) == (
            Export.Statut.ECHEC,
            "RuntimeError : WeasyPrint indisponible",
        )
        assert export.etat_label == "Export en échec"
        task = Tache.objects.get()
        assert (task.status, task.attempts, task.state_label) == (
            TaskResultStatus.READY,
            1,
            "Nouvel essai prévu",
        )
        assert mailoutbox == []

        monkeypatch.undo()
        clock.shift(30)
        run_worker()

    export.refresh_from_db()
    assert (export.statut, export.erreur, export.fait) == (Export.Statut.PRET, "", 3)
    assert Tache.objects.get().status == TaskResultStatus.SUCCESSFUL
    assert len(mailoutbox) == 1


def test_export_failing_for_good_tells_its_requester_once(
    database_queue, staff, appel, decided, mailoutbox, monkeypatch, settings
):
    settings.TASKS_RETRY_DELAYS = [30]
    start = timezone.now()
    export = exports.request_export(kind=Export.Kind.PROCES_VERBAL, requested_by=staff, appel=appel)
    break_weasyprint(monkeypatch)
    with time_machine.travel(start, tick=False) as clock:
        run_worker()
        assert mailoutbox == []  # a retry is due: nothing to tell yet
        clock.shift(30)
        run_worker()

    export.refresh_from_db()
    task = Tache.objects.get()
    assert (task.status, task.attempts) == (TaskResultStatus.FAILED, 2)
    assert export.statut == Export.Statut.ECHEC
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["charge@cerdd.test"], f"Échec de l'export : Procès-verbal du jury — {appel.titre}")
    ]
    body = mailoutbox[0].body
    assert (
        f"L'export que vous avez demandé le {format_datetime_fr(export.created_at)} n'a pas "
        f"pu être préparé : Procès-verbal du jury de l'appel « {appel.titre} »."
    ) in body
    assert "RuntimeError : WeasyPrint indisponible" in body
    assert "http://127.0.0.1:8000/admin/candidatures/export/" in body

    # Run again by staff (« Relancer »), it works: the « prêt » e-mail follows, once.
    monkeypatch.undo()
    exports.build_export.enqueue(export_id=export.pk)
    run_worker()
    export.refresh_from_db()
    assert export.statut == Export.Statut.PRET
    assert [m.subject for m in mailoutbox][1:] == [
        f"Export prêt : Procès-verbal du jury — {appel.titre}"
    ]


def test_export_failing_without_the_worker_tells_its_requester_at_once(
    staff, appel, decided, mailoutbox, monkeypatch, django_capture_on_commit_callbacks
):
    break_weasyprint(monkeypatch)

    with django_capture_on_commit_callbacks(execute=True):
        exports.request_export(kind=Export.Kind.PROCES_VERBAL, requested_by=staff, appel=appel)

    assert Export.objects.get().statut == Export.Statut.ECHEC
    assert [m.subject for m in mailoutbox] == [
        f"Échec de l'export : Procès-verbal du jury — {appel.titre}"
    ]


# --- Procès-verbal ----------------------------------------------------------------------------


def test_proces_verbal_of_a_large_call_is_prepared_by_the_worker(
    staff_client, staff, appel, decided, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.PROCES_VERBAL_SYNC_DOSSIERS = 2
    url = f"/admin/candidatures/appel/{appel.pk}/proces-verbal.pdf"

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.get(url)

    export = Export.objects.get()
    assert response.status_code == 302
    assert response["Location"] == status_url(export)
    assert (export.kind, export.appel, export.statut, export.fait, export.total) == (
        Export.Kind.PROCES_VERBAL,
        appel,
        Export.Statut.PRET,
        1,
        1,
    )
    with export.fichier.open("rb") as handle:
        text = pdf_text(handle.read())
    assert "Procès-verbal du jury" in text
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == f"Export prêt : Procès-verbal du jury — {appel.titre}"
    download = staff_client.get(download_url(export))
    assert download["Content-Disposition"] == 'attachment; filename="proces-verbal-2021.pdf"'
    assert "Procès-verbal prêt" in page_text(staff_client.get(status_url(export)))


def test_proces_verbal_status_while_waiting_for_the_worker(staff_client, staff, appel):
    export = Export.objects.create(
        requested_by=staff, kind=Export.Kind.PROCES_VERBAL, appel=appel, total=1
    )

    text = page_text(staff_client.get(status_url(export)))

    assert "Procès-verbal en préparation" in text
    assert "Vous recevrez un e-mail à charge@cerdd.test quand il sera prêt" in text
    assert staff_client.get(download_url(export))["Location"] == status_url(export)


# --- Who sees what ----------------------------------------------------------------------------


def test_anonymous_is_sent_to_the_login_page(client, staff, appel):
    export = make_export(staff, appel, statut=Export.Statut.PRET)

    for url in (status_url(export), download_url(export), EXPORTS_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_someone_elses_export_is_a_404_for_staff_and_jurors(client, staff, appel):
    export = make_export(staff, appel, statut=Export.Statut.PRET)
    export.fichier.save("exports/x.pdf", ContentFile(b"%PDF-1.7"))

    for other in (charge_de_mission(email="autre@cerdd.test"), juror(email="jure@cerdd.test")):
        client.force_login(other)
        assert client.get(status_url(export)).status_code == 404
        assert client.get(download_url(export)).status_code == 404


def test_team_permission_sees_everyones_exports(client, staff, appel):
    from django.contrib.auth.models import Permission

    export = make_export(staff, appel, statut=Export.Statut.PRET)
    export.fichier.save("exports/x.pdf", ContentFile(b"%PDF-1.7"))
    lead = charge_de_mission(email="responsable@cerdd.test")
    lead.user_permissions.add(Permission.objects.get(codename="view_team_exports"))
    client.force_login(lead)

    assert client.get(download_url(export)).status_code == 200
    assert "charge@cerdd.test" in page_text(client.get(EXPORTS_URL))


def test_request_export_refuses_non_staff(appel, decided):
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        exports.request_export(
            kind=Export.Kind.LETTRES_PDF,
            requested_by=UserFactory(email="mairie@arras.test"),
            decision_ids=[decided[0].pk],
        )
    assert Export.objects.count() == 0


# --- The list ---------------------------------------------------------------------------------


def test_exports_list_shows_my_exports_with_their_state(staff_client, staff, appel):
    make_export(staff, appel, statut=Export.Statut.EN_COURS, fait=37, total=120)
    make_export(charge_de_mission(email="autre@cerdd.test"), appel)

    text = page_text(staff_client.get(EXPORTS_URL))

    assert "Export en préparation : 37 / 120 courriers" in text
    assert "autre@cerdd.test" not in text


def test_exports_list_queries_do_not_grow_with_rows(staff_client, staff, appel):
    make_export(staff, appel)
    staff_client.get(EXPORTS_URL)  # warm caches (content types, permissions)
    with CaptureQueriesContext(connection) as one:
        staff_client.get(EXPORTS_URL)
    for _ in range(5):
        make_export(staff, AppelFactory(), statut=Export.Statut.PRET)
    with CaptureQueriesContext(connection) as many:
        response = staff_client.get(EXPORTS_URL)

    assert response.content.decode().count("Télécharger") == 5
    assert len(many) == len(one)


# --- Retention --------------------------------------------------------------------------------


def test_exports_older_than_a_week_are_deleted_with_their_files(
    staff, appel, django_capture_on_commit_callbacks
):
    old = make_export(staff, appel, statut=Export.Statut.PRET)
    old.fichier.save("exports/ancien.pdf", ContentFile(b"%PDF-1.7"))
    Export.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=8))
    recent = make_export(staff, appel, statut=Export.Statut.PRET)
    storage, name = old.fichier.storage, old.fichier.name

    with django_capture_on_commit_callbacks(execute=True):
        deleted = exports.purge_old_exports.call()

    assert deleted == 1
    assert list(Export.objects.all()) == [recent]
    assert not storage.exists(name)
