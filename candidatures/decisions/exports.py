"""Exports prepared by the worker: decision letters above ``settings.LETTERS_PER_REQUEST``
(one merged PDF or a ZIP) and a large call's procès-verbal.

Staff ask for one from the admin (``request_export``): an ``Export`` row and its task
``build_export`` are written in one transaction, and the browser goes to the export's status
page (« Export en préparation : 37 / 120 courriers », « Actualiser »). The worker renders the
document, updating the progress as it goes, stores it through the storage API, marks it
« prêt » and e-mails the requester a link to the scoped download view.

``build_export`` is safe to run twice: a rerun after a worker died deletes the partial file
and starts again; once « prêt », it only sends the e-mail if it has not left yet (under the
row's lock), so the requester gets one. A failure (WeasyPrint, storage) is recorded on the
export (« échec », error) and raised, so that the worker retries the task with back-off.
"""

import datetime
import logging
import secrets
import time
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from candidatures.jury import proces_verbal
from cerdd_ami.emails import build_email, site_url
from cerdd_ami.formats import format_datetime_fr
from cerdd_ami.tasks import background, enqueue, is_last_attempt

from . import letters
from .models import Decision, Export

logger = logging.getLogger(__name__)

# Seconds between two writes of the progress: often enough for « Actualiser », rarely enough
# to cost nothing next to the rendering.
PROGRESS_INTERVAL = 1.0

EXTENSIONS = {
    Export.Kind.LETTRES_PDF: "pdf",
    Export.Kind.LETTRES_ZIP: "zip",
    Export.Kind.PROCES_VERBAL: "pdf",
}
CONTENT_TYPES = {"pdf": "application/pdf", "zip": "application/zip"}


def request_export(*, kind, requested_by, appel=None, decision_ids=()) -> Export:
    """Ask the worker for a document; returns the new ``Export`` (« en attente »).

    ``kind`` LETTRES_PDF / LETTRES_ZIP: the letters of ``decision_ids``, in the admin's order
    (call, then dossier number); ``appel`` is their call when they share one. PROCES_VERBAL:
    ``appel``'s procès-verbal. Refused (PermissionDenied) for anyone but active staff,
    (ValidationError) without decisions or call. Side effects, in one transaction: the row
    (``total`` = number of letters, or 1), and the task ``build_export`` enqueued (it exists
    if and only if the row does).
    """
    if not (requested_by.is_active and requested_by.is_staff):
        raise PermissionDenied
    kind = Export.Kind(kind)
    ids = sorted({int(pk) for pk in decision_ids})
    if kind == Export.Kind.PROCES_VERBAL:
        if appel is None:
            raise ValidationError("Le procès-verbal est celui d'un appel : aucun appel choisi.")
        parametres, total = {}, 1
    else:
        if not ids:
            raise ValidationError("Aucun courrier à exporter : la sélection est vide.")
        parametres, total = {"decisions": ids}, len(ids)
    with transaction.atomic():
        export = Export.objects.create(
            requested_by=requested_by, kind=kind, appel=appel, parametres=parametres, total=total
        )
        enqueue(build_export, export_id=export.pk)
    return export


def download_filename(export: Export) -> str:
    """The name the file is downloaded under."""
    if export.kind == Export.Kind.PROCES_VERBAL:
        return proces_verbal.filename(export.appel)
    stamp = timezone.localtime(export.created_at).strftime("%Y-%m-%d-%Hh%M")
    return f"courriers-{stamp}.{EXTENSIONS[export.kind]}"


def content_type(export: Export) -> str:
    return CONTENT_TYPES[EXTENSIONS[export.kind]]


class _Progress:
    """The letters' progress callback, written to the export's row now and then."""

    def __init__(self, export_id: int):
        self.export_id = export_id
        self.written_at = 0.0

    def __call__(self, done: int, total: int, step: str) -> None:
        now = time.monotonic()
        if now - self.written_at < PROGRESS_INTERVAL and done < total:
            return
        self.written_at = now
        # The layout step counts 0/1 then 1/1: it keeps the letters' count and says its name.
        fields = {"etape": step[:60]}
        if step != "Mise en page du PDF":
            fields.update(fait=done, total=total)
        Export.objects.filter(pk=self.export_id).update(**fields)


def _render(export: Export) -> bytes:
    if export.kind == Export.Kind.PROCES_VERBAL:
        return proces_verbal.render_proces_verbal_pdf(export.appel)
    decisions = list(
        Decision.objects.filter(pk__in=export.parametres.get("decisions", []))
        .select_related("candidature__appel", "candidature__collectivite")
        .order_by("candidature__appel", "candidature__numero")
    )
    progress = _Progress(export.pk)
    if export.kind == Export.Kind.LETTRES_ZIP:
        return letters.letters_zip(decisions, progress=progress)
    return letters.render_letters_merged_pdf(decisions, progress=progress)


def _start(export_id: int) -> Export | None:
    """Mark the export « en cours » from scratch (a partial file of an attempt that died is
    deleted); None when it is « prêt » already."""
    with transaction.atomic():
        export = Export.objects.select_for_update().get(pk=export_id)
        if export.statut == Export.Statut.PRET:
            return None
        if export.fichier.name:
            export.fichier.storage.delete(export.fichier.name)
        extension = EXTENSIONS[export.kind]
        # The name is reserved before the rendering: a rerun knows what to delete.
        export.fichier.name = f"exports/{export.pk}-{secrets.token_urlsafe(12)}.{extension}"
        export.statut = Export.Statut.EN_COURS
        export.fait = 0
        export.etape = ""
        export.erreur = ""
        export.finished_at = None
        export.notifie_at = None  # this attempt's outcome is still to be told
        export.save(
            update_fields=[
                "fichier",
                "statut",
                "fait",
                "etape",
                "erreur",
                "finished_at",
                "notifie_at",
            ]
        )
    return export


def _store(export: Export, data: bytes) -> None:
    """Write the file under its reserved name and mark the export « prêt »."""
    storage = export.fichier.storage
    storage.delete(export.fichier.name)
    name = storage.save(export.fichier.name, ContentFile(data))
    with transaction.atomic():
        locked = Export.objects.select_for_update().get(pk=export.pk)
        locked.fichier.name = name
        locked.statut = Export.Statut.PRET
        locked.fait = locked.total
        locked.etape = ""
        locked.finished_at = timezone.now()
        locked.save(update_fields=["fichier", "statut", "fait", "etape", "finished_at"])


def _fail(export_id: int, error: Exception) -> None:
    Export.objects.filter(pk=export_id).update(
        statut=Export.Statut.ECHEC,
        erreur=f"{type(error).__name__} : {error}"[:2000],
        finished_at=timezone.now(),
    )


def _tell_requester(export_id: int, *, statut) -> bool:
    """E-mail the requester that the export is ready (``statut`` « prêt ») or failed for good
    (« échec »), once: sent under the row's lock and recorded (``notifie_at``) in the same
    transaction. Returns whether it was sent now."""
    with transaction.atomic():
        export = (
            Export.objects.select_for_update(of=("self",))
            .select_related("requested_by", "appel")
            .get(pk=export_id)
        )
        if export.notifie_at is not None or export.statut != statut:
            return False
        context = {
            "document": export.get_kind_display(),
            "appel": export.appel.titre if export.appel else "",
            "demande_le": format_datetime_fr(export.created_at),
        }
        if statut == Export.Statut.PRET:
            template = "export_pret"
            context |= {
                "total": export.total,
                "courriers": export.is_letters,
                "lien": site_url(
                    reverse("admin:candidatures_export_telecharger", args=[export.pk])
                ),
                "jours": settings.EXPORTS_KEPT_DAYS,
            }
        else:
            template = "export_echec"
            context |= {
                "erreur": export.erreur,
                "lien": site_url(reverse("admin:candidatures_export_changelist")),
            }
        build_email(template, context, to=[export.requested_by.email]).send()
        export.notifie_at = timezone.now()
        export.save(update_fields=["notifie_at"])
    return True


@background("Export de documents (courriers, procès-verbal)", takes_context=True)
def build_export(context, *, export_id: int) -> dict:
    """Render the export's document, store it, mark it « prêt », e-mail the requester.

    Idempotent: see the module's docstring. A failure is recorded (« échec », error) and
    raised for the worker to retry; after the last attempt, the requester is e-mailed that
    it failed (once), as they would otherwise wait for the « prêt » e-mail.
    """
    export = _start(export_id)
    if export is not None:
        try:
            data = _render(Export.objects.select_related("appel").get(pk=export_id))
            _store(export, data)
        except Exception as error:
            logger.exception("Export %s en échec", export_id)
            _fail(export_id, error)
            if is_last_attempt(context):
                _tell_requester(export_id, statut=Export.Statut.ECHEC)
            raise
    sent = _tell_requester(export_id, statut=Export.Statut.PRET)
    return {"export": export_id, "email": sent}


@background("Suppression des exports anciens (quotidien)")
def purge_old_exports(*, now=None) -> int:
    """Delete exports older than ``settings.EXPORTS_KEPT_DAYS`` days, their files with them
    (the letters and procès-verbaux name people). Returns how many were deleted."""
    limit = (now or timezone.now()) - datetime.timedelta(days=settings.EXPORTS_KEPT_DAYS)
    deleted = 0
    for export in Export.objects.filter(created_at__lt=limit):
        with transaction.atomic():
            name = export.fichier.name
            export.delete()
            if name:
                transaction.on_commit(partial(export.fichier.storage.delete, name), robust=True)
        deleted += 1
    return deleted
