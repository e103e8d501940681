"""Uploads are scanned by clamd before being stored; clamd unreachable means refused.

The clamd here is a real server on a socket speaking the INSTREAM protocol, so the tests prove
the framing our client sends, not a mock of it.
"""

import logging
import socketserver
import struct
import threading
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from candidatures.models import Collectivite, PieceJointe
from cerdd_ami import antivirus
from tests.candidatures.factories import AppelFactory, CandidatureFactory, tiny_pdf_bytes
from tests.cerdd_ami.test_settings import PRODUCTION_ENV, run_manage
from tests.factories import UserFactory
from tests.utils import page_text

# The standard EICAR test string, in two halves so that no antivirus flags this file.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"

INFECTED_MESSAGE = (
    "Ce fichier a été refusé par l'analyse antivirus (Eicar-Test-Signature). "
    "Il n'a pas été enregistré."
)
UNAVAILABLE_MESSAGE = (
    "L'analyse antivirus est momentanément indisponible : le fichier n'a pas été enregistré. "
    "Réessayez dans quelques minutes ; le reste du dossier est conservé."
)


def beside_the_file_field(message, question="lettre"):
    """The error under the file question ``question``'s field (named by its code)."""
    return (
        f'<div id="id_{question}_error" class="invalid-feedback d-block"><p class="mb-0"><strong>'
        f"{message}</strong></p></div>"
    )


class FakeClamd(socketserver.StreamRequestHandler):
    """clamd's INSTREAM, as clamd(8) documents it; records what each connection received."""

    def handle(self):
        server = self.server
        command = b""
        while not command.endswith(b"\0"):
            byte = self.rfile.read(1)
            if not byte:
                return
            command += byte
        chunk_sizes, data = [], b""
        while True:
            size = struct.unpack("!L", self.rfile.read(4))[0]
            chunk_sizes.append(size)
            if size == 0:
                break
            data += self.rfile.read(size)
        server.received.append({"command": command, "chunk_sizes": chunk_sizes, "data": data})
        if server.mode == "hang up":
            return
        if server.mode == "error":
            self.wfile.write(b"INSTREAM size limit exceeded. ERROR\0")
        elif EICAR in data:
            self.wfile.write(b"stream: Eicar-Test-Signature FOUND\0")
        else:
            self.wfile.write(b"stream: OK\0")


class UnixClamd(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


class TcpClamd(socketserver.ThreadingTCPServer):
    daemon_threads = True


def _serve(server, mode):
    server.mode = mode
    server.received = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    return thread


@pytest.fixture
def clamd(settings, tmp_path):
    """A fake clamd on a Unix socket in tmp_path, named by CLAMD_SOCKET; ``.mode`` picks its
    behaviour: "scan" (EICAR is found, anything else is clean), "error" or "hang up"."""
    path = tmp_path / "clamd.ctl"
    server = UnixClamd(str(path), FakeClamd)
    thread = _serve(server, "scan")
    settings.CLAMD_SOCKET = str(path)
    settings.CLAMD_HOST = ""
    settings.CLAMD_TIMEOUT = 5
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


# ---------------------------------------------------------------------------------------------
# The client, against the fake clamd


def test_scan_streams_the_whole_file_in_framed_chunks(clamd):
    content = bytes(range(256)) * 1000  # 256 000 bytes: several 64 KiB chunks
    upload = SimpleUploadedFile("annexe.pdf", content)

    result = antivirus.scan(upload)

    assert result == antivirus.ScanResult(signature=None)
    assert result.clean is True
    [received] = clamd.received
    assert received["command"] == b"zINSTREAM\0"
    assert received["chunk_sizes"] == [65536, 65536, 65536, 59392, 0]
    assert received["data"] == content
    assert upload.tell() == 0


def test_scan_names_the_signature_clamd_found(clamd):
    upload = SimpleUploadedFile("lettre.pdf", b"%PDF-1.4\n" + EICAR + b"\n%%EOF\n")

    result = antivirus.scan(upload)

    assert (result.clean, result.signature) == (False, "Eicar-Test-Signature")
    assert clamd.received[0]["data"] == b"%PDF-1.4\n" + EICAR + b"\n%%EOF\n"
    assert upload.tell() == 0


def test_scan_over_tcp(settings):
    server = TcpClamd(("127.0.0.1", 0), FakeClamd)
    thread = _serve(server, "scan")
    settings.CLAMD_SOCKET = ""
    settings.CLAMD_HOST, settings.CLAMD_PORT = server.server_address
    settings.CLAMD_TIMEOUT = 5
    try:
        result = antivirus.scan(SimpleUploadedFile("eicar.doc", EICAR))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

    assert result.signature == "Eicar-Test-Signature"
    assert server.received[0]["data"] == EICAR


def test_scan_error_reply_means_unavailable(clamd):
    clamd.mode = "error"

    with pytest.raises(antivirus.ScanUnavailable) as raised:
        antivirus.scan(SimpleUploadedFile("lettre.pdf", b"%PDF-1.4 lettre"))

    assert str(raised.value) == (
        f"clamd at {clamd.server_address} answered: INSTREAM size limit exceeded. ERROR"
    )


def test_scan_hang_up_without_reply_means_unavailable(clamd):
    clamd.mode = "hang up"

    with pytest.raises(antivirus.ScanUnavailable) as raised:
        antivirus.scan(SimpleUploadedFile("lettre.pdf", b"%PDF-1.4 lettre"))

    assert str(raised.value) == (
        f"clamd at {clamd.server_address} closed the connection without a verdict"
    )


def test_scan_without_clamd_listening_means_unavailable(settings, tmp_path):
    settings.CLAMD_SOCKET = str(tmp_path / "absent.ctl")
    upload = SimpleUploadedFile("lettre.pdf", b"%PDF-1.4 lettre")

    with pytest.raises(antivirus.ScanUnavailable) as raised:
        antivirus.scan(upload)

    assert str(raised.value) == (
        f"cannot talk to clamd at {tmp_path / 'absent.ctl'}: [Errno 2] No such file or directory"
    )
    assert upload.tell() == 0


# ---------------------------------------------------------------------------------------------
# Through the upload page (step 4 of a dossier)


@pytest.fixture
def applicant():
    return UserFactory(email="mairie@loos.test")


@pytest.fixture
def dossier(applicant):
    return CandidatureFactory(
        appel=AppelFactory(slug="2021"),
        collectivite=Collectivite.objects.get(insee="62528"),
        createur=applicant,
    )


def _upload(client, dossier, name, content, nature="lettre"):
    return client.post(
        f"/candidature/{dossier.pk}/etape/4/",
        {nature: SimpleUploadedFile(name, content, "application/pdf")},
    )


def _media_files(settings):
    return sorted(p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file())


@pytest.mark.django_db
@pytest.mark.parametrize("in_memory", [True, False], ids=["in memory", "temporary file"])
def test_clean_pdf_is_scanned_then_stored(client, applicant, dossier, clamd, settings, in_memory):
    if not in_memory:
        # Django then writes the upload to a temporary file, as it does above 2.5 MB.
        settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0
    client.force_login(applicant)
    pdf = tiny_pdf_bytes("Notre lettre")

    response = _upload(client, dossier, "Lettre Loos.pdf", pdf)

    piece = PieceJointe.objects.get()
    assert response.headers["Location"] == f"/candidature/{dossier.pk}/etape/4/"
    assert [r["data"] for r in clamd.received] == [pdf]
    assert _media_files(settings) == [Path(settings.MEDIA_ROOT) / piece.fichier.name]
    assert (Path(settings.MEDIA_ROOT) / piece.fichier.name).read_bytes() == pdf


@pytest.mark.django_db
def test_infected_upload_is_refused_beside_the_field_and_not_stored(
    client, applicant, dossier, clamd, settings, caplog
):
    client.force_login(applicant)
    infected = b"%PDF-1.4\n" + EICAR + b"\n%%EOF\n"

    with caplog.at_level(logging.WARNING, logger="cerdd_ami.files"):
        response = _upload(client, dossier, "annexe.pdf", infected, nature="complement")

    content = page_text(response)
    assert response.status_code == 200
    assert beside_the_file_field(INFECTED_MESSAGE, question="complement") in content
    # Beside the field it was sent by, not beside the letter's.
    assert 'id="id_lettre_error"' not in content
    assert PieceJointe.objects.count() == 0
    assert _media_files(settings) == []
    assert [r["data"] for r in clamd.received] == [infected]
    assert [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "cerdd_ami.files"
    ] == [
        (
            "WARNING",
            f"Antivirus refused an upload (dossier {dossier.pk}, {len(infected)} bytes): "
            "Eicar-Test-Signature",
        )
    ]


@pytest.mark.django_db
def test_the_bare_eicar_file_is_refused_as_infected_not_as_a_wrong_type(
    client, applicant, dossier, clamd, settings
):
    # What an operator uploads to test the installation (docs/deployment.md §2.8): the scan
    # comes before the type check, so a disguised file is reported for what it is.
    client.force_login(applicant)

    response = _upload(client, dossier, "eicar.pdf", EICAR)

    assert beside_the_file_field(INFECTED_MESSAGE) in page_text(response)
    assert PieceJointe.objects.count() == 0
    assert _media_files(settings) == []


@pytest.mark.django_db
def test_clamd_down_refuses_the_upload_and_tells_the_operators(
    client, applicant, dossier, settings, tmp_path, caplog
):
    settings.CLAMD_SOCKET = str(tmp_path / "absent.ctl")
    client.force_login(applicant)
    pdf = tiny_pdf_bytes("Notre lettre")

    with caplog.at_level(logging.ERROR, logger="cerdd_ami.files"):
        response = _upload(client, dossier, "Lettre Loos.pdf", pdf)

    assert response.status_code == 200
    assert beside_the_file_field(UNAVAILABLE_MESSAGE) in page_text(response)
    assert PieceJointe.objects.count() == 0
    assert _media_files(settings) == []
    assert [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "cerdd_ami.files"
    ] == [
        (
            "ERROR",
            f"Antivirus unavailable, upload refused (dossier {dossier.pk}, {len(pdf)} bytes): "
            f"cannot talk to clamd at {tmp_path / 'absent.ctl'}: "
            "[Errno 2] No such file or directory",
        )
    ]


@pytest.mark.django_db
def test_clamd_error_refuses_the_upload(client, applicant, dossier, clamd, settings):
    clamd.mode = "error"
    client.force_login(applicant)

    response = _upload(client, dossier, "Lettre Loos.pdf", tiny_pdf_bytes("Notre lettre"))

    assert beside_the_file_field(UNAVAILABLE_MESSAGE) in page_text(response)
    assert PieceJointe.objects.count() == 0
    assert _media_files(settings) == []


@pytest.mark.django_db
def test_no_clamd_configured_means_no_scanning(client, applicant, dossier, settings):
    settings.CLAMD_SOCKET = settings.CLAMD_HOST = ""
    client.force_login(applicant)

    _upload(client, dossier, "Lettre Loos.pdf", tiny_pdf_bytes("Notre lettre"))

    assert PieceJointe.objects.count() == 1


# ---------------------------------------------------------------------------------------------
# Settings


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"CLAMD_SOCKET": "/var/run/clamav/clamd.ctl", "CLAMD_HOST": "clamav.internal"},
            "CLAMD_SOCKET et CLAMD_HOST sont tous deux définis : choisissez le socket Unix de "
            "clamd ou son adresse TCP, pas les deux.",
        ),
        (
            {"CLAMD_SOCKET": "clamd.ctl"},
            "CLAMD_SOCKET='clamd.ctl' : chemin absolu attendu (/var/run/clamav/clamd.ctl).",
        ),
        ({"CLAMD_PORT": "clamd"}, "CLAMD_PORT='clamd' : nombre entier attendu."),
        ({"CLAMD_PORT": "70000"}, "CLAMD_PORT=70000 : port TCP attendu (1 à 65535)."),
        ({"CLAMD_TIMEOUT": "0"}, "CLAMD_TIMEOUT=0 : nombre de secondes ≥ 1 attendu."),
    ],
)
def test_bad_clamd_settings_stop_startup(overrides, message):
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, **overrides})

    assert result.returncode == 1
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line == f"django.core.exceptions.ImproperlyConfigured: {message}"


def test_check_deploy_with_clamd_configured_prints_no_warning():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_overrides={**PRODUCTION_ENV, "CLAMD_SOCKET": "/var/run/clamav/clamd.ctl"},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
