"""Checking uploaded files by their content, never by their name.

A dossier accepts PDF, DOC, DOCX and ODT documents; supporting documents may also be PNG or
JPEG images. A file renamed to look acceptable is refused with a French message.
"""

import hashlib
import zipfile

from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat

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


def validate_upload(uploaded_file, *, images_allowed, max_bytes, room_bytes) -> str:
    """Validate one upload; returns its MIME type or raises ValidationError in French.

    ``room_bytes`` is what the dossier can still hold under its total size limit.
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
    allowed = accepted_types(images_allowed)
    mime = sniff_type(uploaded_file)
    if mime not in allowed:
        raise ValidationError(
            "Le contenu de ce fichier n'est pas un document %(formats)s, quel que soit son nom.",
            code="bad_type",
            params={"formats": ", ".join(allowed.values())},
        )
    return mime


def sha256_of(uploaded_file) -> str:
    digest = hashlib.sha256()
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
    uploaded_file.seek(0)
    return digest.hexdigest()
