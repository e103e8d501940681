"""The jury's procès-verbal: the grid, the jury, the ranking with its recommendations, the
conflicts and recusals, as ``templates/pdf/proces_verbal.html`` rendered by WeasyPrint.

A 500-dossier call takes about 10 s: above ``settings.PROCES_VERBAL_SYNC_DOSSIERS`` dossiers,
the admin has it rendered by the worker (``candidatures.decisions.exports``).
"""

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone, translation

from candidatures.appels.models import Appel
from candidatures.jury import ranking, tables
from candidatures.jury import services as jury_services
from cerdd_ami.formats import format_date_fr, format_datetime_fr
from cerdd_ami.pdf import pdf_from_html

from .models import ConflitInteret


def filename(appel) -> str:
    return f"proces-verbal-{appel.slug}.pdf"


def proces_verbal_context(appel, now=None) -> dict:
    """What ``templates/pdf/proces_verbal.html`` shows: the grid, the jury, the ranking with
    its recommendations, the conflicts and recusals (the register, plus ties detected but not
    recorded yet), and the date."""
    now = now or timezone.now()
    result = ranking.build_ranking(appel)
    conflicts = tables.conflict_register(appel)
    recorded = {(c["numero"], c["jure"]) for c in conflicts}
    for dossier, user, reason in jury_services.related_pairs(appel):
        key = (dossier.numero, ranking.display_name(user.first_name, user.last_name, user.email))
        if key not in recorded:
            conflicts.append(
                {
                    "numero": dossier.numero,
                    "collectivite": dossier.collectivite.nom,
                    "jure": key[1],
                    "origine": ConflitInteret.Origine.DETECTE,
                    "origine_label": "Détecté (pas encore inscrit au registre)",
                    "motif": reason,
                    "created_at": None,
                }
            )
    conflicts.sort(key=lambda c: (c["numero"], c["jure"]))
    for conflict in conflicts:
        conflict["date"] = format_date_fr(conflict["created_at"]) if conflict["created_at"] else ""
    counted_by_juror = {item.juror.pk: item.n for item in result.calibration}
    return {
        "appel": appel,
        "ranking": result,
        "jurors": [
            {"juror": item.juror, "n": counted_by_juror.get(item.juror.pk, 0)}
            for item in result.calibration
        ],
        "conflicts": conflicts,
        "mode": Appel.ModeJury(appel.mode_jury).label,
        "seuil": ranking.format_fr(float(appel.seuil_desaccord), 1),
        "date": format_date_fr(now),
        "closes": format_datetime_fr(appel.closes_at),
        "notation_close": format_datetime_fr(appel.notation_close_at)
        if appel.notation_close_at
        else "",
        "deliberation": format_datetime_fr(appel.deliberation_ouverte_at)
        if appel.deliberation_ouverte_at
        else "",
        "deposees": len(result.rows),
    }


def render_proces_verbal_html(appel, now=None) -> str:
    with translation.override("fr"):
        return render_to_string("pdf/proces_verbal.html", proces_verbal_context(appel, now))


def render_proces_verbal_pdf(appel, now=None) -> bytes:
    html = render_proces_verbal_html(appel, now)
    return pdf_from_html(html, base_url=str(settings.BASE_DIR / "static"))
