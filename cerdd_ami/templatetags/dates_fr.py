"""The one template filter for dates and times shown to people (cerdd_ami.formats).

``{{ value|date_fr }}``: a date → « 12 mars 2021 »; a datetime → « 12 mars 2021 à 23 h 59 »;
a time → « 9 h 00 ». Variants: ``date_fr:"jour"`` (a datetime's day only), ``date_fr:"semaine"``
(« mardi 18 mai 2021 »), ``date_fr:"heure"`` (a datetime's time only). Empty stays empty.
"""

from datetime import date, datetime, time

from django import template

from cerdd_ami import formats

register = template.Library()


@register.filter
def date_fr(value, variant=""):
    if value in (None, ""):
        return ""
    if variant == "semaine":
        return formats.format_weekday_date_fr(value)
    if variant == "jour":
        return formats.format_date_fr(value)
    if isinstance(value, time) or variant == "heure":
        return formats.format_time_fr(value)
    if isinstance(value, datetime):
        return formats.format_datetime_fr(value)
    if isinstance(value, date):
        return formats.format_date_fr(value)
    return value
