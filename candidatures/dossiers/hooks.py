"""The seam between the dossier's « mes données » and the apps built on it (the cycle).

``my_data`` (``views/dossier.py``) exports what the dossier holds about its people; the cycle
holds more about the same people (their messages in the participants' network). It registers
``fn(*, candidature, user) -> dict`` here from its ``AppConfig.ready()``; each dict is merged
into the export. Read only: no callable changes anything.
"""

from collections.abc import Callable

personal_data: list[Callable[..., dict]] = []


def connect_personal_data(fn: Callable[..., dict]) -> None:
    """Register ``fn(*, candidature, user)``; registering it twice keeps one."""
    if fn not in personal_data:
        personal_data.append(fn)
