"""The seam between the call and what other packages attach to it, for « Préparer l'édition
suivante » (``candidatures.appels.services.prepare_next_edition``).

``appels`` sits at the bottom of the imports (docs/architecture.md): it never imports the
packages built on it. What they keep per call (the decisions' letter templates, the cycle's
séance plan, the questionnaire of a call) they copy themselves, through a function each one
registers here from an ``AppConfig.ready()`` (``candidatures/apps.py``, ``cycle/apps.py``):

- ``edition_copiers``: each callable is called as ``fn(source=..., target=..., offset=...)``
  inside the transaction of ``prepare_next_edition``, once the new call and its criteria
  exist. ``source`` is the call being copied, ``target`` the new (unpublished) call,
  ``offset`` an ``EditionOffset``: ``offset.shift(value)`` moves a date or an aware datetime
  as the call's own dates were moved (months, then days, on the Paris wall clock).
  It returns a short French phrase of what it copied (« 3 modèles de courrier »), or None when
  there was nothing; an exception rolls the whole preparation back.

Registered today: ``candidatures.decisions.services.copy_letter_templates`` and
``candidatures.questionnaires.services.copy_questionnaire_to_next_edition`` (in
``candidatures/apps.py``), ``cycle.seances.services.copy_seance_plan`` (in ``cycle/apps.py``).
"""

from collections.abc import Callable

edition_copiers: list[Callable[..., str | None]] = []


def connect_edition_copier(fn: Callable[..., str | None]) -> None:
    """Register ``fn(*, source, target, offset)``; registering it twice keeps one (ready() may
    run again)."""
    if fn not in edition_copiers:
        edition_copiers.append(fn)


def copy_edition(*, source, target, offset) -> list[str]:
    """Let every registered package copy its part of ``source`` onto ``target``; returns what
    they report having copied, in registration order."""
    copied = []
    for fn in edition_copiers:
        summary = fn(source=source, target=target, offset=offset)
        if summary:
            copied.append(summary)
    return copied
