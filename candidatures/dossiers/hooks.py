"""The seam through which packages built on the dossiers add their part to « mes données »
(the applicant's right of access), without the dossiers importing them.

Two kinds of contributions, registered from ``AppConfig.ready()``:

- ``data_sections``: ``fn(candidature) -> (key, value)``, one key of the JSON export each (the
  dossier's messagerie, registered in ``candidatures/apps.py``);
- ``personal_data``: ``fn(*, candidature, user) -> dict`` merged into the export, for what an
  app holds about the person asking (the cycle's network, registered in ``cycle/apps.py``).

Read only: no callable changes anything.
"""

from collections.abc import Callable

data_sections: list[Callable] = []
personal_data: list[Callable[..., dict]] = []


def connect_data_section(function) -> None:
    if function not in data_sections:
        data_sections.append(function)


def connect_personal_data(fn: Callable[..., dict]) -> None:
    """Register ``fn(*, candidature, user)``; registering it twice keeps one."""
    if fn not in personal_data:
        personal_data.append(fn)
