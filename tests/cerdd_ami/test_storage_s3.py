"""Files on S3-compatible object storage (S3_BUCKET...), end to end against moto's server.

Several machines share one bucket: what one files (a receipt, a letter), another serves. Every
test reads the bucket back with boto3, as an operator would, and compares exact keys and bytes.
"""

import hashlib
import io
import urllib.error
import urllib.request
import zipfile
import zoneinfo
from datetime import datetime

import pypdf
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from candidatures import retention
from candidatures.decisions import letters, publication
from candidatures.decisions import services as decisions_services
from candidatures.models import Candidature, Courrier, Decision, Depot, Issue, PieceJointe
from cerdd_ami.permissions import sync_role_permissions
from tests.candidatures.factories import (
    AppelFactory,
    PieceJointeFactory,
    complete_candidature,
    tiny_pdf_bytes,
)
from tests.factories import UserFactory, charge_de_mission

pytestmark = pytest.mark.django_db

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
ANNOUNCEMENT = datetime(2021, 4, 15, 9, 0, tzinfo=PARIS)
DECIDED = datetime(2021, 4, 8, 14, 0, tzinfo=PARIS)
TICKED = {
    "engagement_binome": "on",
    "engagement_experimentation": "on",
    "consentement_donnees": "on",
}


def read_pdf(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def body(response) -> bytes:
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.fixture
def applicant():
    return UserFactory(email="mairie@loos.test")


@pytest.fixture
def other_applicant():
    return UserFactory(email="mairie@ailleurs.test")


# --- Deposit: pieces and receipt ---------------------------------------------------------------


def test_s3_deposit_stores_pieces_and_receipt_in_the_bucket_served_by_the_scoped_views(
    s3_storage, client, applicant, other_applicant, mailoutbox, django_capture_on_commit_callbacks
):
    appel = AppelFactory()
    dossier = complete_candidature(appel=appel, createur=applicant, lettre_text="Lettre de Loos")
    letter_bytes = tiny_pdf_bytes("Lettre de Loos")
    annexe = tiny_pdf_bytes("Délibération du conseil municipal")
    client.force_login(applicant)

    uploaded = client.post(
        f"/candidature/{dossier.pk}/etape/4/",
        {"complement": SimpleUploadedFile("Délibération.pdf", annexe, "application/pdf")},
    )
    with django_capture_on_commit_callbacks(execute=True):
        deposited = client.post(f"/candidature/{dossier.pk}/etape/5/", {**TICKED, "deposer": ""})

    assert uploaded.status_code == 302
    assert deposited.headers["Location"] == f"/candidature/{dossier.pk}/"
    dossier.refresh_from_db()
    assert dossier.statut == Candidature.Statut.DEPOSEE
    lettre = dossier.pieces.get(question__code="lettre")
    complementaire = dossier.pieces.get(question__code="complement")
    depot = Depot.objects.get(candidature=dossier)
    stored = s3_storage.objects()
    assert set(stored) == {lettre.fichier.name, complementaire.fichier.name, depot.recu.name}
    assert depot.recu.name.startswith(f"recus/{appel.slug}/{dossier.numero}-v1-")
    assert (stored[lettre.fichier.name], stored[complementaire.fichier.name]) == (
        letter_bytes,
        annexe,
    )
    receipt = stored[depot.recu.name]
    assert depot.recu_sha256 == hashlib.sha256(receipt).hexdigest()
    assert f"n° {dossier.numero}" in read_pdf(receipt)
    # The receipt e-mail attaches the very object of the bucket.
    assert [(m.to, m.attachments[0].content) for m in mailoutbox] == [
        (dossier.referent_emails(), receipt)
    ]

    urls = {
        f"/candidature/{dossier.pk}/pieces/{lettre.pk}/": letter_bytes,
        f"/candidature/{dossier.pk}/pieces/{complementaire.pk}/": annexe,
        f"/candidature/{dossier.pk}/recu/1/": receipt,
    }
    assert {url: body(client.get(url)) for url in urls} == urls
    client.force_login(other_applicant)
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]
    client.logout()
    assert [client.get(url).status_code for url in urls] == [404, 404, 404]


def test_s3_receipt_not_stored_during_an_outage_is_filed_later_by_emettre_recus(
    s3_storage, client, applicant, mailoutbox, django_capture_on_commit_callbacks
):
    """The bucket refuses the receipt's upload during the deposit: the deposit stands, and
    ``emettre_recus`` files the receipt into the bucket later, where the web server serves it."""
    import botocore.exceptions
    from django.core.files.storage import default_storage
    from django.core.management import call_command

    dossier = complete_candidature(appel=AppelFactory(), createur=applicant)
    client.force_login(applicant)
    events = default_storage.connection.meta.client.meta.events

    def unreachable(**kwargs):
        raise botocore.exceptions.EndpointConnectionError(endpoint_url=s3_storage.endpoint_url)

    events.register("before-call.s3.PutObject", unreachable, unique_id="outage")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/candidature/{dossier.pk}/etape/5/", {**TICKED, "deposer": ""})
    finally:
        events.unregister("before-call.s3.PutObject", unique_id="outage")

    depot = Depot.objects.get(candidature=dossier)
    assert response.headers["Location"] == f"/candidature/{dossier.pk}/"
    assert (depot.recu.name, depot.recu_envoye_at, mailoutbox) == ("", None, [])
    assert set(s3_storage.objects()) == {dossier.pieces.get().fichier.name}
    assert client.get(f"/candidature/{dossier.pk}/recu/1/").status_code == 404

    Depot.objects.filter(pk=depot.pk).update(submitted_at=datetime(2021, 1, 1, tzinfo=PARIS))
    call_command("emettre_recus", stdout=io.StringIO())

    depot.refresh_from_db()
    receipt = s3_storage.objects()[depot.recu.name]
    assert depot.recu_sha256 == hashlib.sha256(receipt).hexdigest()
    assert body(client.get(f"/candidature/{dossier.pk}/recu/1/")) == receipt
    assert [m.attachments[0].content for m in mailoutbox] == [receipt]


def test_s3_object_missing_from_the_bucket_is_a_404_not_an_error(s3_storage, client, applicant):
    dossier = complete_candidature(appel=AppelFactory(), createur=applicant)
    piece = dossier.pieces.get()
    s3_storage.client.delete_object(Bucket=s3_storage.name, Key=piece.fichier.name)
    client.force_login(applicant)

    assert client.get(f"/candidature/{dossier.pk}/pieces/{piece.pk}/").status_code == 404


def test_s3_replaced_letter_leaves_the_bucket_once_committed(
    s3_storage, client, applicant, django_capture_on_commit_callbacks
):
    dossier = complete_candidature(appel=AppelFactory(), createur=applicant)
    old = dossier.pieces.get()
    client.force_login(applicant)
    new_bytes = tiny_pdf_bytes("Nouvelle lettre")

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/candidature/{dossier.pk}/etape/4/",
            {"lettre": SimpleUploadedFile("Lettre 2.pdf", new_bytes, "application/pdf")},
        )

    new = dossier.pieces.get()
    assert new.pk != old.pk
    assert s3_storage.objects() == {new.fichier.name: new_bytes}


# --- Decision letters: publication and exports -------------------------------------------------


@pytest.fixture
def published(s3_storage, applicant):
    """Two dossiers of the 2021 call, decided and published: one letter each in the bucket."""
    sync_role_permissions()
    staff = charge_de_mission(email="charge@cerdd.test")
    appel = AppelFactory(edition_2021=True, slug="2021", places=12)
    dossiers = []
    for number, createur in ((1, applicant), (2, None)):
        candidature = complete_candidature(appel=appel, createur=createur)
        candidature.statut = Candidature.Statut.DEPOSEE
        candidature.numero = f"AMI-2021-{number:03d}"
        candidature.deposee_at = datetime(2021, 3, 1, 10, number, tzinfo=PARIS)
        candidature.save()
        dossiers.append(candidature)
    for candidature, issue in zip(dossiers, (Issue.RETENUE, Issue.NON_RETENUE), strict=True):
        decisions_services.decide(
            candidature=candidature,
            issue=issue,
            motivation="Motivation du jury.",
            staff_user=staff,
            now=DECIDED,
        )
    report = publication.publish_decisions(appel=appel, now=ANNOUNCEMENT, staff_user=staff)
    assert (report.letters_filed, report.failed, report.letters_failed) == (2, 0, 0)
    return staff, dossiers


def test_s3_publication_files_each_letter_in_the_bucket_and_the_applicant_downloads_it(
    published, s3_storage, client, applicant, other_applicant, mailoutbox
):
    _staff, (arras, lille) = published
    courriers = {c.decision.candidature_id: c for c in Courrier.objects.select_related("decision")}
    stored = s3_storage.objects()

    letter_keys = {c.pdf.name for c in courriers.values()}
    pieces = {p.fichier.name for p in PieceJointe.objects.all()}
    assert set(stored) == letter_keys | pieces
    for courrier in courriers.values():
        assert courrier.pdf.name.startswith("courriers/2021/AMI-2021-00")
        assert courrier.sha256 == hashlib.sha256(stored[courrier.pdf.name]).hexdigest()
    arras_letter = stored[courriers[arras.pk].pdf.name]
    assert arras.collectivite.nom in read_pdf(arras_letter)
    sent = sorted((m.to[0], m.attachments[0].content) for m in mailoutbox)
    assert sent == sorted(
        [(email, arras_letter) for email in arras.referent_emails()]
        + [(email, stored[courriers[lille.pk].pdf.name]) for email in lille.referent_emails()]
    )

    client.force_login(applicant)
    assert body(client.get(f"/candidature/{arras.pk}/courrier/")) == arras_letter
    client.force_login(other_applicant)
    assert client.get(f"/candidature/{arras.pk}/courrier/").status_code == 404


def test_s3_exports_merge_and_zip_the_filed_letters_read_from_the_bucket(
    published, s3_storage, client
):
    staff, _dossiers = published
    stored = s3_storage.objects()
    filed = {
        letters.letter_filename(c.decision): stored[c.pdf.name]
        for c in Courrier.objects.select_related(
            "decision__candidature__collectivite", "decision__candidature__appel"
        )
    }
    pks = list(Decision.objects.values_list("pk", flat=True))
    client.force_login(staff)

    merged = client.post(
        "/admin/candidatures/decision/", {"action": "export_pdf", "_selected_action": pks}
    )
    archive = client.post(
        "/admin/candidatures/decision/", {"action": "export_zip", "_selected_action": pks}
    )

    assert merged["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(merged.content))
    assert len(reader.pages) == sum(
        len(pypdf.PdfReader(io.BytesIO(pdf)).pages) for pdf in filed.values()
    )
    text = read_pdf(merged.content)
    assert text.index("AMI-2021-001") < text.index("AMI-2021-002")
    with zipfile.ZipFile(io.BytesIO(archive.content)) as exported:
        assert {name: exported.read(name) for name in exported.namelist()} == filed
    # Exports read the bucket; they write nothing to it.
    assert s3_storage.objects() == stored
    client.force_login(UserFactory(email="mairie@ailleurs.test"))
    refused = client.post(
        "/admin/candidatures/decision/", {"action": "export_zip", "_selected_action": pks}
    )
    assert refused.status_code == 302
    assert refused.headers["Location"].startswith("/admin/login/")


def test_s3_export_prepared_by_the_worker_is_stored_in_the_bucket_and_purged(
    published, s3_storage, client, settings, django_capture_on_commit_callbacks, mailoutbox
):
    from datetime import timedelta

    from django.utils import timezone

    from candidatures.decisions import exports
    from candidatures.models import Export

    staff, _dossiers = published
    settings.LETTERS_PER_REQUEST = 1
    before = s3_storage.objects()
    filed = {
        letters.letter_filename(c.decision): before[c.pdf.name]
        for c in Courrier.objects.select_related(
            "decision__candidature__collectivite", "decision__candidature__appel"
        )
    }
    client.force_login(staff)
    mailoutbox.clear()  # the letters of the publication

    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/admin/candidatures/decision/",
            {
                "action": "export_zip",
                "_selected_action": list(Decision.objects.values_list("pk", flat=True)),
            },
        )

    export = Export.objects.get()
    assert export.statut == Export.Statut.PRET
    added = {k: v for k, v in s3_storage.objects().items() if k not in before}
    assert list(added) == [export.fichier.name]
    assert export.fichier.name.startswith("exports/")
    download = body(client.get(f"/admin/candidatures/export/{export.pk}/telecharger/"))
    assert download == added[export.fichier.name]
    with zipfile.ZipFile(io.BytesIO(download)) as exported:
        assert {name: exported.read(name) for name in exported.namelist()} == filed
    assert [m.to for m in mailoutbox] == [["charge@cerdd.test"]]

    Export.objects.update(created_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        assert exports.purge_old_exports.call() == 1
    assert s3_storage.objects() == before


# --- Retention -------------------------------------------------------------------------------


def test_s3_retention_purge_deletes_the_stale_drafts_objects_only(
    s3_storage, django_capture_on_commit_callbacks
):
    closes_at = datetime(2021, 8, 15, 23, 59, 59, tzinfo=PARIS)
    old_call = AppelFactory(
        opens_at=datetime(2021, 5, 15, tzinfo=PARIS),
        closes_at=closes_at,
        announcement_at=datetime(2021, 9, 15, tzinfo=PARIS),
    )
    stale = complete_candidature(appel=old_call)
    PieceJointeFactory(
        candidature=stale, nature=PieceJointe.Nature.COMPLEMENTAIRE, nom_original="annexe.pdf"
    )
    current = complete_candidature(appel=AppelFactory())
    stale_keys = {p.fichier.name for p in stale.pieces.all()}
    kept = {p.fichier.name: s3_storage.objects()[p.fichier.name] for p in current.pieces.all()}
    assert set(s3_storage.objects()) == stale_keys | set(kept)
    assert len(stale_keys) == 2

    with django_capture_on_commit_callbacks(execute=True):
        deleted = retention.purge_stale_drafts(now=datetime(2022, 8, 16, tzinfo=PARIS))

    assert deleted == 1
    assert list(Candidature.objects.values_list("pk", flat=True)) == [current.pk]
    assert s3_storage.objects() == kept


# --- Private objects ---------------------------------------------------------------------------


def anonymous_get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - 127.0.0.1
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_s3_objects_are_private_an_anonymous_get_on_the_bucket_is_403(s3_storage):
    dossier = complete_candidature(appel=AppelFactory())
    key = dossier.pieces.get().fichier.name
    url = f"{s3_storage.endpoint_url}/{s3_storage.name}/{key}"

    acl = s3_storage.client.get_object_acl(Bucket=s3_storage.name, Key=key)
    assert [grant["Permission"] for grant in acl["Grants"]] == ["FULL_CONTROL"]
    assert acl["Grants"][0]["Grantee"]["Type"] == "CanonicalUser"
    assert anonymous_get_status(url) == 403
    # The same GET does see an object made public: the 403 above is the ACL's doing.
    s3_storage.client.put_object_acl(Bucket=s3_storage.name, Key=key, ACL="public-read")
    assert anonymous_get_status(url) == 200


def test_s3_storage_never_overwrites_and_signs_urls_for_60_seconds_only(s3_storage):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    first = default_storage.save("recus/2021/AMI-2021-001.pdf", ContentFile(b"%PDF-1 premier"))
    second = default_storage.save("recus/2021/AMI-2021-001.pdf", ContentFile(b"%PDF-1 second"))

    assert first == "recus/2021/AMI-2021-001.pdf"
    assert second != first
    assert s3_storage.objects() == {first: b"%PDF-1 premier", second: b"%PDF-1 second"}
    # No view hands out such a URL; where Django makes one (the admin's « Actuellement » link
    # of an uploaded file), it is signed and lives one minute.
    url = default_storage.url(first)
    assert url.startswith(f"{s3_storage.endpoint_url}/{s3_storage.name}/recus/2021/")
    assert "X-Amz-Expires=60&" in url
