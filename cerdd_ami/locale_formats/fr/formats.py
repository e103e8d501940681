"""Django's own pages (the admin's lists and read-only fields, ``|date`` without a format) in
the house style of ``cerdd_ami.formats``: « 12 mars 2021 à 23 h 59 », never « 23:59 ».
Our templates and documents use ``date_fr`` (which also writes « 1er mars »)."""

DATE_FORMAT = "j F Y"
TIME_FORMAT = r"G \h i"
DATETIME_FORMAT = r"j F Y \à G \h i"
