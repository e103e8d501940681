"""SVG primitives and colours for the server-rendered charts of both apps.

No JavaScript and nothing fetched from elsewhere: a chart is a safe ``<svg>`` string dropped
into a template next to the data table it draws (the table is the accessible source; the chart
carries role="img", an aria-label, <title> and a <desc> that sums it up). Colours are SVG
presentation attributes, not ``style``: the site's CSP refuses inline styles. Every piece of
text interpolated here goes through ``escape``.
"""

import textwrap

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

GREEN = "#2f6b3a"
GREEN_LIGHT = "#9cc5a1"
ORANGE = "#b35900"  # disagreement: also marked by a symbol, never by colour alone
INK = "#1a1a1a"
GRID = "#c8c8c8"
MUTED = "#555555"
FONT = 'font-family="DejaVu Sans, Verdana, sans-serif"'

# Average advance of a character of the charts' 11 px font: label columns are as wide as
# their longest label, never cut.
CHAR_W = 6.6


def n(value: float) -> str:
    """A coordinate: short, dot-decimal as SVG wants it."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def truncate(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def wrap(text: str, length: int) -> list[str]:
    return textwrap.wrap(text, length, break_long_words=False) or [""]


def svg(chart_id: str, title: str, desc: str, width: float, height: float, body: str) -> SafeString:
    """The ``<svg>`` element around ``body`` (already escaped by the caller)."""
    chart_id = escape(chart_id)
    # Every interpolated text is escaped here or by the callers.
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="jury-chart" id="{chart_id}" '
        f'role="img" aria-label="{escape(title)}" aria-describedby="{chart_id}-desc" '
        f'width="{n(width)}" height="{n(height)}" viewBox="0 0 {n(width)} {n(height)}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f"{body}</svg>"
    )


def text(x, y, content, *, size=11, anchor="start", fill=INK, weight="normal") -> str:
    return (
        f'<text x="{n(x)}" y="{n(y)}" {FONT} font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}">{escape(content)}</text>'
    )
