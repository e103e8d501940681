"""Uploaded files: checked by their content, never by their name; stored, hashed, deleted
with their rows, and served privately.

A dossier accepts PDF, DOC, DOCX and ODT documents; supporting documents may also be PNG or
JPEG images. A file renamed to look acceptable is refused with a French message. When clamd
is configured, every accepted file is also scanned before anything is written to storage.
"""

import hashlib
import logging
import zipfile
from functools import partial
from pathlib import PurePosixPath

from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import FileField
from django.db.models.deletion import Collector
from django.http import FileResponse, Http404
from django.template.defaultfilters import filesizeformat

from . import antivirus

logger = logging.getLogger(__name__)

PDF = "application/pdf"
DOC = "application/msword"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
PNG = "image/png"
JPEG = "image/jpeg"

DOCUMENT_TYPES = {PDF: "PDF", DOC: "DOC", DOCX: "DOCX", ODT: "ODT"}
IMAGE_TYPES = {PNG: "PNG", JPEG: "JPEG"}

OLE2_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")


def sniff_type(uploaded_file) -> str | None:
    """The MIME type the file's bytes show, or None when it is none we accept."""
    uploaded_file.seek(0)
    head = uploaded_file.read(8)
    uploaded_file.seek(0)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(OLE2_SIGNATURE):
        return DOC
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(uploaded_file)
    return None


def _sniff_zip(uploaded_file) -> str | None:
    try:
        with zipfile.ZipFile(uploaded_file) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and archive.read("mimetype").strip() == ODT.encode():
                return ODT
            if "[Content_Types].xml" in names and any(n.startswith("word/") for n in names):
                return DOCX
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    finally:
        uploaded_file.seek(0)
    return None


def accepted_types(images_allowed: bool) -> dict[str, str]:
    return {**DOCUMENT_TYPES, **IMAGE_TYPES} if images_allowed else dict(DOCUMENT_TYPES)


def validate_upload(
    uploaded_file, *, images_allowed, max_bytes, room_bytes, dossier_id=None, allowed=None
) -> str:
    """Validate one upload; returns its MIME type or raises ValidationError in French.

    ``allowed`` ({MIME type: label}) narrows the accepted types further.

    ``room_bytes`` is what the dossier can still hold under its total size limit;
    ``dossier_id`` only names the dossier in the log when the antivirus refuses the file.
    """
    if uploaded_file.size == 0:
        raise ValidationError("Le fichier est vide.", code="empty")
    if uploaded_file.size > max_bytes:
        raise ValidationError(
            "Le fichier pèse %(size)s : la limite est de %(limit)s par fichier.",
            code="too_big",
            params={"size": filesizeformat(uploaded_file.size), "limit": filesizeformat(max_bytes)},
        )
    if uploaded_file.size > room_bytes:
        raise ValidationError(
            "Ce fichier dépasserait la taille totale autorisée pour le dossier "
            "(il reste %(room)s).",
            code="dossier_too_big",
            params={"room": filesizeformat(max(room_bytes, 0))},
        )
    # Before the type check: a disguised malicious file is refused and logged as infected,
    # and the standard EICAR test file (which is no document) tests the whole chain. After
    # the size checks, which cost nothing and explain themselves, where clamd would cut off a
    # file above its StreamMaxLength as an error.
    scan_upload(uploaded_file, dossier_id=dossier_id)
    accepted = accepted_types(images_allowed)
    if allowed is not None:
        accepted = {mime: label for mime, label in accepted.items() if mime in allowed}
    allowed = accepted
    mime = sniff_type(uploaded_file)
    if mime not in allowed:
        raise ValidationError(
            "Le contenu de ce fichier n'est pas un document %(formats)s, quel que soit son nom.",
            code="bad_type",
            params={"formats": ", ".join(allowed.values())},
        )
    return mime


def scan_upload(uploaded_file, *, dossier_id=None) -> None:
    """Refuse the file if clamd finds something, or if it cannot be asked (fail closed).

    Does nothing when no clamd is configured (development, tests).
    """
    if not antivirus.is_enabled():
        return
    try:
        result = antivirus.scan(uploaded_file)
    except antivirus.ScanUnavailable as error:
        # Fail closed: an unscanned file is never stored. The applicant retries later; the
        # operators must learn that clamd is down, hence ERROR.
        logger.error(
            "Antivirus unavailable, upload refused (dossier %s, %s bytes): %s",
            dossier_id,
            uploaded_file.size,
            error,
        )
        raise ValidationError(
            "L'analyse antivirus est momentanément indisponible : le fichier n'a pas été "
            "enregistré. Réessayez dans quelques minutes ; le reste du dossier est conservé.",
            code="antivirus_unavailable",
        ) from None
    if not result.clean:
        # The signature and the dossier only: neither the file's content nor its name, which
        # an applicant chose and which may carry personal data.
        logger.warning(
            "Antivirus refused an upload (dossier %s, %s bytes): %s",
            dossier_id,
            uploaded_file.size,
            result.signature,
        )
        raise ValidationError(
            "Ce fichier a été refusé par l'analyse antivirus (%(signature)s). "
            "Il n'a pas été enregistré.",
            code="infected",
            params={"signature": result.signature},
        )


def sha256_of(uploaded_file) -> str:
    digest = hashlib.sha256()
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    return digest.hexdigest()


def delete_on_commit(field_file) -> None:
    """Delete a stored file once the transaction that dropped its row commits: a rollback must
    not leave rows without their files."""
    name = field_file.name
    if name:
        transaction.on_commit(partial(field_file.storage.delete, name), robust=True)


def delete_files_with(objs) -> None:
    """Before deleting ``objs`` (model instances of one model, or a queryset), in the same
    transaction: every stored file of the rows that deletion removes, the cascades' included
    (a participant's questions, a cycle's séance documents…), is deleted once it commits.

    For the deletions no workflow owns (a superuser's delete in the admin): the workflows name
    their files themselves (``delete_on_commit``).
    """
    objs = list(objs)
    if not objs:
        return
    collector = Collector(using=router.db_for_write(type(objs[0])))
    collector.collect(objs)
    batches = list(collector.data.items())
    batches += [(rows.model, rows) for rows in collector.fast_deletes]
    for model, rows in batches:
        names = [f.name for f in model._meta.concrete_fields if isinstance(f, FileField)]
        for row in rows if names else ():
            for name in names:
                delete_on_commit(getattr(row, name))


def original_name(name: str) -> str:
    """The name an uploaded file is shown and downloaded under: the file name only (browsers
    may send a full client path, with either separator), printable characters, at most 200
    characters with the extension kept."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(char for char in base if char.isprintable()) or "document"
    if len(base) > 200:
        suffix = PurePosixPath(base).suffix[:16]
        base = base[: 200 - len(suffix)] + suffix
    return base


def private_file_response(field, filename, content_type):
    """A stored private file (a piece, a receipt, a letter, a séance document) as a download;
    404 when the file is missing from storage. The caller has already checked who may read it.
    """
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=content_type
    )
    # Personal data: never kept by shared caches or sniffed into something else.
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
