"""The product's own admin pages look like Django's: Django 6 styles ``<ol class="breadcrumbs">``
only (a ``<div>`` rendered as bare text above the page)."""

import re
from pathlib import Path

from django.conf import settings

ADMIN_TEMPLATES = Path(settings.BASE_DIR) / "templates" / "admin"


def test_admin_breadcrumbs_use_djangos_list_markup():
    found = {
        str(path.relative_to(ADMIN_TEMPLATES)): re.findall(
            r'<(\w+) class="breadcrumbs"', path.read_text()
        )
        for path in ADMIN_TEMPLATES.rglob("*.html")
    }
    with_breadcrumbs = {name: tags for name, tags in found.items() if tags}

    assert len(with_breadcrumbs) >= 5
    assert {name: tags for name, tags in with_breadcrumbs.items() if tags != ["ol"]} == {}
