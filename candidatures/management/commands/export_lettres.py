"""Export a call's decision letters: one merged PDF to print, or a ZIP of one PDF per letter.

A letter already filed (published decisions) is exported as filed, its latest version as it
was sent; the others are rendered now. The admin answers with the file up to
``LETTERS_PER_REQUEST`` letters (a setting, 100 by default) and has the worker prepare larger
selections (``candidatures.decisions.exports``); this command writes any number to a local file
and shows its progress on stderr, for instance::

    python manage.py export_lettres --appel 2021 --sortie courriers-2021.pdf
    python manage.py export_lettres --appel 2021 --format zip --issue non_retenue --sortie nr.zip
"""

import os
import tempfile
import time
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from candidatures.decisions import letters
from candidatures.models import Appel, Decision, Issue

BAR_WIDTH = 20


def plain(text: str) -> str:
    return text


def courriers(count: int) -> str:
    return f"{count} courrier{'s' if count > 1 else ''}"


class ProgressBar:
    """Prints « [#######-------------] 12/30 Courriers PDF » lines to a stream.

    Lines rather than a carriage-return bar: the output stays readable in a log or a cron
    mail. A line is printed when the bar gains a character, and at the last step.
    """

    def __init__(self, stream):
        self.stream = stream  # the command's OutputWrapper
        self.last: tuple[str, int] | None = None

    def __call__(self, done: int, total: int, step: str) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        if self.last == (step, filled) and done != total:
            return
        self.last = (step, filled)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        # Plain text: Django paints the command's stderr red, which reads as an error.
        self.stream.write(f"[{bar}] {done}/{total} {step}", style_func=plain)
        self.stream.flush()


class Command(BaseCommand):
    help = (
        "Exporte les courriers de décision d'un appel : un seul PDF à imprimer (--format pdf) "
        "ou une archive ZIP d'un PDF par collectivité (--format zip)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--appel", required=True, help="identifiant (slug) de l'appel")
        parser.add_argument(
            "--format",
            choices=["pdf", "zip"],
            default="pdf",
            help="pdf : un seul PDF, chaque courrier sur une nouvelle page ; zip : un PDF par "
            "courrier (défaut : pdf)",
        )
        parser.add_argument(
            "--issue",
            action="append",
            choices=Issue.values,
            help="ne garder que cette issue (répétable) ; par défaut, toutes",
        )
        parser.add_argument("--sortie", required=True, type=Path, help="fichier à écrire")
        parser.add_argument(
            "--date",
            dest="date_courrier",
            help="date des courriers pas encore classés, AAAA-MM-JJ (défaut : date de "
            "publication des décisions, sinon date de réponse aux collectivités) ; un courrier "
            "classé garde la sienne",
        )

    def handle(self, *args, appel, format, issue, sortie, date_courrier, **options):
        try:
            call = Appel.objects.get(slug=appel)
        except Appel.DoesNotExist:
            raise CommandError(f"Aucun appel « {appel} ».") from None
        letter_date = None
        if date_courrier:
            try:
                letter_date = date.fromisoformat(date_courrier)
            except ValueError:
                raise CommandError(
                    f"Date invalide « {date_courrier} » : attendu AAAA-MM-JJ."
                ) from None
        if not sortie.parent.is_dir():
            raise CommandError(f"Le dossier {sortie.parent} n'existe pas.")

        decisions = (
            Decision.objects.filter(candidature__appel=call)
            .select_related("candidature__appel", "candidature__collectivite")
            .order_by("candidature__numero")
        )
        if issue:
            decisions = decisions.filter(issue__in=issue)
        decisions = list(decisions)
        if not decisions:
            raise CommandError("Aucune décision à exporter pour cet appel et ces issues.")

        self.stderr.write(
            f"{courriers(len(decisions))} de l'appel « {call.titre} ».", style_func=plain
        )
        progress = ProgressBar(self.stderr)
        started = time.monotonic()
        if format == "zip":
            data = letters.letters_zip(decisions, letter_date=letter_date, progress=progress)
        else:
            data = letters.render_letters_merged_pdf(
                decisions, letter_date=letter_date, progress=progress
            )
        # Written next to the target then renamed: an interrupted export leaves no half file.
        handle, temporary = tempfile.mkstemp(dir=sortie.parent, prefix=".export_lettres-")
        try:
            with os.fdopen(handle, "wb") as output:
                output.write(data)
            Path(temporary).replace(sortie)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.stdout.write(
            f"{sortie} écrit : {courriers(len(decisions))}, {len(data) / 1024:.0f} Ko, "
            f"en {time.monotonic() - started:.1f} s."
        )
