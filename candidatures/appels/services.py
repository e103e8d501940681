"""Workflows of the calls: « Préparer l'édition suivante ».

Same rules as the other packages' services: keyword-only arguments, one transaction each, the
side effects in the docstring; the admin only calls them.
"""

import calendar
import itertools
import logging
import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import PurePath

from django.conf import settings
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from cerdd_ami.formats import format_datetime_fr

from . import hooks
from .models import Appel, Critere, NiveauCritere

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Moving dates: months on the Paris wall clock


def add_months(day: date, months: int) -> date:
    """``day`` ``months`` later (or earlier), the day of the month kept when it exists, else
    the month's last day (31 January + 1 month = 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


@dataclass(frozen=True)
class EditionOffset:
    """How far the next edition's dates move: months, then days, on the calendar of Paris.

    A datetime keeps its wall-clock time in Paris (a deadline at 23:59:59 stays at 23:59:59
    whether the new date is in summer or winter time), which a fixed ``timedelta`` would not.
    """

    months: int = 12
    days: int = 0

    def shift_date(self, day: date | None) -> date | None:
        if day is None:
            return None
        return add_months(day, self.months) + timedelta(days=self.days)

    def shift_datetime(self, moment: datetime | None) -> datetime | None:
        if moment is None:
            return None
        paris = zoneinfo.ZoneInfo(settings.TIME_ZONE)
        local = timezone.localtime(moment, paris)
        moved = datetime.combine(self.shift_date(local.date()), local.time().replace(fold=0), paris)
        # A wall-clock time that does not exist that day (the hour skipped in March) comes out
        # one hour later, as a clock would show it (through UTC: astimezone to the same zone
        # would return it unchanged).
        return moved.astimezone(UTC).astimezone(paris)

    def shift(self, value: date | datetime | None) -> date | datetime | None:
        """A date or an aware datetime, moved (``shift_datetime`` or ``shift_date``)."""
        if isinstance(value, datetime):
            return self.shift_datetime(value)
        return self.shift_date(value)

    def describe(self) -> str:
        """« 12 mois », « 6 mois et 3 jours », « aucun décalage »."""
        parts = []
        if self.months:
            parts.append(f"{self.months} mois")
        if self.days:
            parts.append(f"{self.days} jour{'s' if abs(self.days) > 1 else ''}")
        return " et ".join(parts) or "aucun décalage"


# ---------------------------------------------------------------------------------------------
# What the next edition takes from the call. Every field of Appel is in exactly one of these
# groups (tests/candidatures/appels/test_services.py checks it): a field added to the model
# must be placed here, deliberately.

# Chosen by staff on the confirmation page.
APPEL_GIVEN_FIELDS = ("titre", "slug", "prefixe_numero")
# Copied as they are: texts, contacts, signatory, capacity, rules, jury settings.
APPEL_COPIED_FIELDS = (
    "programme",
    "accroche",
    "presentation",
    "objectifs",
    "cycle",
    "bonnes_raisons",
    "criteres_texte",
    "attentes",
    "contact_nom",
    "contact_fonction",
    "contact_email",
    "signataire_nom",
    "signataire_fonction",
    "signataire_email",
    "first_session_place",
    "places",
    "mode_jury",
    "jures_par_dossier",
    "seuil_desaccord",
    "entete_courrier",
    "lieu_courrier",
    "epci_interregionaux_eligibles",
    "taille_max_fichier_mo",
    "taille_max_dossier_mo",
)
# Moved by the offset.
APPEL_SHIFTED_FIELDS = ("opens_at", "closes_at", "announcement_at", "first_session_date")
# Copied as a new stored file.
APPEL_FILE_FIELDS = ("signature",)
# What belongs to the edition's life, not to its definition: the new call starts afresh,
# unpublished, its dossier numbers from 1. The old free-text calendar is not carried over:
# the public calendar derives from the dates.
APPEL_RESET_FIELDS = {
    "id": None,
    "dernier_numero": 0,
    "est_publie": False,
    "notation_close_at": None,
    "deliberation_ouverte_at": None,
    "decisions_published_at": None,
    # A scheduled publication belongs to the call it was scheduled for.
    "publication_programmee_at": None,
    "publication_tache_id": "",
    "calendrier": "",
}

YEAR = re.compile(r"(?<!\d)(19|20)\d{2}(?!\d)")


def _shift_years(text: str, years: int) -> str:
    return YEAR.sub(lambda match: str(int(match.group(0)) + years), text) if years else text


def free_slug(slug: str) -> str:
    """``slug``, or ``slug-2``, ``slug-3``… the first that no call uses."""
    taken = set(
        Appel.objects.filter(slug__startswith=slug).values_list("slug", flat=True).iterator()
    )
    candidate, suffix = slug, 2
    while candidate in taken:
        candidate, suffix = f"{slug}-{suffix}", suffix + 1
    return candidate


def propose_next_edition(source: Appel, offset: EditionOffset) -> dict:
    """The title, slug and dossier-number prefix proposed for the edition after ``source``:
    every year they mention moved as the deadline's year moves (« 2021 » → « 2022 »), the slug
    made free. Staff may change them before confirming."""
    paris = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    deadline_year = timezone.localtime(source.closes_at, paris).year
    years = offset.shift_datetime(source.closes_at).year - deadline_year
    return {
        "titre": _shift_years(source.titre, years),
        "slug": free_slug(_shift_years(source.slug, years)),
        "prefixe_numero": _shift_years(source.prefixe_numero, years),
    }


@dataclass
class NextEdition:
    """What ``prepare_next_edition`` made: the new call, what was copied, what to check."""

    appel: Appel
    copied: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _slug_taken(slug: str) -> ValidationError:
    return ValidationError(
        {
            "slug": ValidationError(
                f"Un appel utilise déjà l'identifiant « {slug} » : choisissez-en un autre.",
                code="slug_taken",
            )
        }
    )


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count <= 1 else plural}"


def prepare_next_edition(
    *,
    source: Appel,
    staff_user,
    titre: str,
    slug: str,
    prefixe_numero: str | None = None,
    offset_months: int = 12,
    offset_days: int = 0,
) -> NextEdition:
    """Create the call that follows ``source``, unpublished, for staff to review.

    Side effects, in one transaction:
    - one new ``Appel``: ``titre``, ``slug``, ``prefixe_numero`` (default: the proposal of
      ``propose_next_edition``) as given; texts, contacts, signatory, capacity, rules and jury
      settings copied; its dates moved by ``offset_months`` then ``offset_days`` on the Paris
      wall clock; not published (``est_publie`` False: no public page, nobody can apply until
      staff publish it), dossier counter at 0, no jury or decision stamp;
    - its criteria grid: one ``Critere`` per criterion of ``source``, with its
      ``NiveauCritere`` levels;
    - the signature image, if any, copied as a new file through the storage API (the two calls
      never share a file: deleting one's signature leaves the other's); a signature missing
      from the storage is skipped, with a warning in the result;
    - whatever the packages built on the call copy through ``hooks.edition_copiers``
      (letter templates, séance plan, questionnaire);
    - one entry in the admin history of the new call (``LogEntry``, addition, by
      ``staff_user``) naming the call it was prepared from.
    Nothing of the dossiers, the jury (members, assignments, évaluations) or the decisions is
    copied. Refused with PermissionDenied for a user who may not add calls, and with a
    ValidationError (French messages, by field) for a slug already used or dates the call's
    rules refuse. If the transaction fails after the signature was stored, the stored copy is
    deleted.
    """
    if not (staff_user.is_active and staff_user.has_perm("candidatures.add_appel")):
        raise PermissionDenied
    offset = EditionOffset(months=offset_months, days=offset_days)
    if prefixe_numero is None:
        prefixe_numero = propose_next_edition(source, offset)["prefixe_numero"]
    stored: list = []
    try:
        with transaction.atomic():
            result = _prepare(
                source=source,
                staff_user=staff_user,
                given={"titre": titre, "slug": slug, "prefixe_numero": prefixe_numero},
                offset=offset,
                stored=stored,
            )
    except BaseException:
        for storage, name in stored:
            storage.delete(name)
        raise
    logger.info(
        "Appel %s préparé à partir de l'appel %s par %s", result.appel.pk, source.pk, staff_user.pk
    )
    return result


def _prepare(*, source, staff_user, given, offset, stored) -> NextEdition:
    # The source as stored, not as a form may have left it in memory.
    source = Appel.objects.get(pk=source.pk)
    if Appel.objects.filter(slug=given["slug"]).exists():
        raise _slug_taken(given["slug"])
    appel = Appel(
        **given,
        **{name: getattr(source, name) for name in APPEL_COPIED_FIELDS},
        **{name: offset.shift(getattr(source, name)) for name in APPEL_SHIFTED_FIELDS},
        **{name: value for name, value in APPEL_RESET_FIELDS.items() if name != "id"},
    )
    _check_dates_in_order(appel)
    appel.full_clean(exclude=["signature"], validate_unique=False)
    result = NextEdition(appel=appel)
    _copy_signature(source, appel, stored, result.warnings)
    try:
        with transaction.atomic():
            appel.save(force_insert=True)
    except IntegrityError:
        # Taken between the check above and the insert.
        raise _slug_taken(given["slug"]) from None

    criteres = list(source.criteres.prefetch_related("niveaux").order_by("ordre"))
    copies = Critere.objects.bulk_create(
        Critere(
            appel=appel,
            ordre=critere.ordre,
            libelle=critere.libelle,
            description=critere.description,
            poids=critere.poids,
            note_max=critere.note_max,
        )
        for critere in criteres
    )
    NiveauCritere.objects.bulk_create(
        NiveauCritere(critere=copy, note=niveau.note, description=niveau.description)
        for critere, copy in zip(criteres, copies, strict=True)
        for niveau in critere.niveaux.all()
    )
    if criteres:
        result.copied.append(_plural(len(criteres), "critère", "critères"))
    result.copied += hooks.copy_edition(source=source, target=appel, offset=offset)

    LogEntry.objects.log_actions(
        user_id=staff_user.pk,
        queryset=[appel],
        action_flag=ADDITION,
        change_message=(
            f"Préparé à partir de l'appel « {source} » (dates décalées de {offset.describe()})."
        ),
    )
    return result


def _check_dates_in_order(appel) -> None:
    """The call's rules on its dates, in words: moving by months may bring two dates onto the
    same day of a shorter month (30 and 31 January + 1 month) and swap them."""
    steps = [
        ("opens_at", "l'ouverture"),
        ("closes_at", "la date limite de dépôt"),
        ("announcement_at", "la réponse aux collectivités"),
    ]
    for (before, before_label), (after, after_label) in itertools.pairwise(steps):
        first, then = getattr(appel, before), getattr(appel, after)
        if then < first or (then == first and before == "opens_at"):
            raise ValidationError(
                f"Avec ce décalage, {after_label} ({format_datetime_fr(then)}) tomberait avant "
                f"{before_label} ({format_datetime_fr(first)}) : choisissez un autre décalage.",
                code="dates_out_of_order",
            )


def _copy_signature(source, appel, stored, warnings) -> None:
    if not source.signature:
        return
    try:
        with source.signature.open("rb") as image:
            data = image.read()
    except OSError:
        logger.warning("Signature introuvable pour l'appel %s : %s", source.pk, source.signature)
        warnings.append(
            "La signature de l'appel copié est introuvable : déposez-la sur le nouvel appel."
        )
        return
    appel.signature.save(PurePath(source.signature.name).name, ContentFile(data), save=False)
    stored.append((appel.signature.storage, appel.signature.name))
