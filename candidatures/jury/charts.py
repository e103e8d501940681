"""Server-rendered SVG charts of the jury's work: notes per critère, ranking, calibration.

No JavaScript and nothing fetched from elsewhere: each builder returns a safe ``<svg>``
string to drop into a template, next to the data table it draws (the table is the accessible
source; the chart carries role="img", an aria-label, <title> and a <desc> that sums it up).
Colours are SVG presentation attributes, not ``style``: the site's CSP refuses inline styles.
Every piece of text from the database goes through ``escape``.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.safestring import SafeString

from candidatures.jury.ranking import SCALE, Calibration, Distribution, RankingRow
from cerdd_ami import svg
from cerdd_ami.svg import CHAR_W, GREEN, GREEN_LIGHT, GRID, INK, MUTED, ORANGE


def fr_number(value: float, digits: int = 1) -> str:
    """« 12,13 » for 12.125: rounded half up, as the templates' ``floatformat`` does, so a
    chart and the table beside it always show the same figure."""
    rounded = Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    if not rounded:
        rounded = abs(rounded)  # « 0,0 », not « -0,0 »
    return f"{rounded:f}".replace(".", ",")


_fr = fr_number


def _label_width(labels: list[str]) -> float:
    return max([LABEL_W, *(8 + CHAR_W * len(label) for label in labels)])


def _nice_step(maximum: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if maximum / step <= 5:
            return step
    return 10 ** len(str(maximum))


# ---------------------------------------------------------------------------------------------
# Notes per critère: one vertical bar per score value


def distribution_svg(distribution: Distribution, chart_id: str) -> SafeString:
    critere = distribution.critere
    values = distribution.counts
    heading = svg.wrap(f"{critere.ordre}. {critere.libelle}", 50)
    width, height = 360, 216 + 14 * len(heading)
    left, right, top, bottom = 44, 12, 20 + 14 * len(heading), 46
    plot_w, plot_h = width - left - right, height - top - bottom
    highest = max(values) if values else 0
    step = _nice_step(max(highest, 1))
    y_max = max(step, -(-highest // step) * step)
    band = plot_w / max(len(values), 1)

    parts = []
    for tick in range(0, y_max + 1, step):
        y = top + plot_h - tick / y_max * plot_h
        parts.append(
            f'<line x1="{left}" x2="{svg.n(left + plot_w)}" y1="{svg.n(y)}" y2="{svg.n(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(svg.text(left - 6, y + 4, str(tick), size=10, anchor="end", fill=MUTED))
    for value, count in enumerate(values):
        x = left + value * band
        bar_h = count / y_max * plot_h
        parts.append(
            f'<rect x="{svg.n(x + band * 0.15)}" y="{svg.n(top + plot_h - bar_h)}" '
            f'width="{svg.n(band * 0.7)}" height="{svg.n(bar_h)}" fill="{GREEN}"/>'
        )
        if count:
            parts.append(
                svg.text(x + band / 2, top + plot_h - bar_h - 4, str(count), anchor="middle")
            )
        parts.append(svg.text(x + band / 2, top + plot_h + 15, str(value), anchor="middle"))
    parts.append(
        f'<line x1="{left}" x2="{svg.n(left + plot_w)}" y1="{svg.n(top + plot_h)}" '
        f'y2="{svg.n(top + plot_h)}" stroke="{INK}" stroke-width="1"/>'
    )
    parts.append(
        svg.text(left + plot_w / 2, height - 8, f"note (sur {critere.note_max})", anchor="middle")
    )
    parts += [
        svg.text(4, 16 + 14 * index, line, weight="bold") for index, line in enumerate(heading)
    ]

    title = f"Répartition des notes — {critere.libelle}"
    if distribution.n:
        detail = ", ".join(f"{value} : {count}" for value, count in enumerate(values))
        desc = (
            f"{distribution.n} note{'s' if distribution.n > 1 else ''} prise"
            f"{'s' if distribution.n > 1 else ''} en compte, moyenne "
            f"{_fr(distribution.mean, 2)} sur {critere.note_max}. Nombre de notes par valeur : "
            f"{detail}."
        )
    else:
        desc = "Aucune note prise en compte pour ce critère."
    return svg.svg(chart_id, title, desc, width, height, "".join(parts))


# ---------------------------------------------------------------------------------------------
# Horizontal 0–20 scale shared by the ranking and the calibration charts


class _Scale:
    def __init__(self, left: float, width: float):
        self.left, self.width = left, width

    def x(self, score: float) -> float:
        return self.left + max(0.0, min(score, SCALE)) / SCALE * self.width

    def grid(self, top: float, bottom: float) -> list[str]:
        parts = []
        for tick in range(0, SCALE + 1, 5):
            x = self.x(tick)
            parts.append(
                f'<line x1="{svg.n(x)}" x2="{svg.n(x)}" y1="{svg.n(top)}" y2="{svg.n(bottom)}" '
                f'stroke="{GRID}" stroke-width="1"/>'
            )
            parts.append(svg.text(x, top - 6, str(tick), size=10, anchor="middle", fill=MUTED))
        return parts


ROW_H = 20
LABEL_W = 270
PLOT_W = 420
MARGIN_R = 110


def ranking_svg(rows: list[RankingRow], chart_id: str, *, by_z: bool = False) -> SafeString:
    """Each dossier's weighted mean (bar) and its lowest and highest évaluations (line), in
    the order of the table; ⚠ marks a disagreement."""
    top, bottom = 30, 30
    labels = [
        f"{(row.rank_z if by_z else row.rank) or '–'}. {row.dossier.numero} — "
        f"{row.dossier.collectivite}"
        for row in rows
    ]
    label_w = _label_width(labels)
    width = label_w + PLOT_W + MARGIN_R
    height = top + bottom + ROW_H * max(len(rows), 1)
    scale = _Scale(label_w, PLOT_W)
    parts = scale.grid(top - 2, height - bottom + 2)
    for position, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = top + position * ROW_H
        middle = y + ROW_H / 2
        parts.append(svg.text(label_w - 8, middle + 4, label, anchor="end"))
        if row.mean is None:
            parts.append(svg.text(scale.x(0) + 4, middle + 4, "non évalué", fill=MUTED))
            continue
        fill = ORANGE if row.disagreement else GREEN_LIGHT
        parts.append(
            f'<rect x="{svg.n(scale.x(0))}" y="{svg.n(y + 4)}" '
            f'width="{svg.n(scale.x(row.mean) - scale.x(0))}" height="{ROW_H - 8}" fill="{fill}"/>'
        )
        x_min, x_max = scale.x(row.min), scale.x(row.max)
        parts.append(
            f'<line x1="{svg.n(x_min)}" x2="{svg.n(x_max)}" '
            f'y1="{svg.n(middle)}" y2="{svg.n(middle)}" '
            f'stroke="{INK}" stroke-width="1.5"/>'
        )
        for x in (x_min, x_max):
            parts.append(
                f'<line x1="{svg.n(x)}" x2="{svg.n(x)}" '
                f'y1="{svg.n(middle - 4)}" y2="{svg.n(middle + 4)}" '
                f'stroke="{INK}" stroke-width="1.5"/>'
            )
        note = _fr(row.mean, 2)
        if row.disagreement:
            note += " ⚠"
        parts.append(svg.text(label_w + PLOT_W + 8, middle + 4, note))

    order = "score z moyen" if by_z else "moyenne pondérée"
    title = f"Classement des dossiers ({order})"
    scored = [row for row in rows if row.mean is not None]
    flagged = sum(row.disagreement for row in rows)
    if scored:
        first = scored[0]
        desc = (
            f"{len(rows)} dossiers, par {order} décroissant(e). Chaque barre est la moyenne "
            "pondérée sur 20 ; le trait va de la note la plus basse à la plus haute ; "
            f"⚠ signale un désaccord ({flagged} dossier{'s' if flagged > 1 else ''}). "
            f"En tête : {first.dossier.numero}, {first.dossier.collectivite}, "
            f"{_fr(first.mean, 2)} sur 20."
        )
    else:
        desc = f"{len(rows)} dossiers, aucune évaluation prise en compte pour l'instant."
    return svg.svg(chart_id, title, desc, width, height, "".join(parts))


def calibration_svg(
    calibration: list[Calibration], overall_mean: float | None, chart_id: str
) -> SafeString:
    """Per juror: mean (dot), mean ± standard deviation (thick line), min–max (thin line),
    against the mean of the whole jury (dashed line)."""
    top, bottom = 30, 30
    label_w = _label_width([item.juror.name for item in calibration])
    width = label_w + PLOT_W + MARGIN_R
    height = top + bottom + ROW_H * max(len(calibration), 1)
    scale = _Scale(label_w, PLOT_W)
    parts = scale.grid(top - 2, height - bottom + 2)
    if overall_mean is not None:
        x = scale.x(overall_mean)
        parts.append(
            f'<line x1="{svg.n(x)}" x2="{svg.n(x)}" '
            f'y1="{svg.n(top)}" y2="{svg.n(height - bottom)}" '
            f'stroke="{ORANGE}" stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
        parts.append(
            svg.text(x, height - 10, f"moyenne du jury {_fr(overall_mean, 2)}", anchor="middle")
        )
    for position, item in enumerate(calibration):
        middle = top + position * ROW_H + ROW_H / 2
        parts.append(svg.text(label_w - 8, middle + 4, item.juror.name, anchor="end"))
        if item.mean is None:
            parts.append(svg.text(scale.x(0) + 4, middle + 4, "aucune évaluation", fill=MUTED))
            continue
        parts.append(
            f'<line x1="{svg.n(scale.x(item.min))}" x2="{svg.n(scale.x(item.max))}" '
            f'y1="{svg.n(middle)}" y2="{svg.n(middle)}" stroke="{MUTED}" stroke-width="1"/>'
        )
        parts.append(
            f'<line x1="{svg.n(scale.x(item.mean - item.stdev))}" '
            f'x2="{svg.n(scale.x(item.mean + item.stdev))}" '
            f'y1="{svg.n(middle)}" y2="{svg.n(middle)}" '
            f'stroke="{GREEN}" stroke-width="6"/>'
        )
        parts.append(
            f'<circle cx="{svg.n(scale.x(item.mean))}" cy="{svg.n(middle)}" r="5" fill="{INK}"/>'
        )
        parts.append(
            svg.text(
                label_w + PLOT_W + 8,
                middle + 4,
                f"{_fr(item.mean, 2)} ± {_fr(item.stdev, 2)}",
            )
        )

    title = "Calibration des juré·es"
    scored = [item for item in calibration if item.mean is not None]
    if scored:
        strict = min(scored, key=lambda item: item.mean)
        lenient = max(scored, key=lambda item: item.mean)
        desc = (
            "Pour chaque juré·e : moyenne des scores sur 20 (point), écart-type autour de la "
            "moyenne (trait épais), note la plus basse et la plus haute (trait fin) ; la ligne "
            "pointillée est la moyenne de tout le jury"
            + (f" ({_fr(overall_mean, 2)})" if overall_mean is not None else "")
            + f". Plus sévère : {strict.juror.name} ({_fr(strict.mean, 2)}) ; plus indulgent·e : "
            f"{lenient.juror.name} ({_fr(lenient.mean, 2)})."
        )
    else:
        desc = "Aucune évaluation prise en compte pour l'instant."
    return svg.svg(chart_id, title, desc, width, height, "".join(parts))
