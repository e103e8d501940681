"""The seam between the decisions and the apps built on them (today: the cycle).

``candidatures`` never imports ``cycle``: the cycle builds on the decisions. Two moments of the
decisions matter to it, and it registers what it does then from its ``AppConfig.ready()``:

- ``on_published``: the call's decisions have just become public (``publish_decisions``, after
  its first transaction; ``promote_next`` when a promoted dossier is published at once, inside
  its transaction). Each callable is called as ``fn(appel=..., staff_user=...)``; the cycle
  enrols the retained collectivités in the call's cycle, when there is one.
- ``on_withdrawn``: staff recorded the withdrawal of a retained collectivité
  (``record_withdrawal``, inside its transaction, the Decision row locked). Each callable is
  called as ``fn(candidature=..., now=...)``; the cycle retires the collectivité's participant.

A callable runs in the caller's transaction when there is one: an exception it raises rolls the
decision back with it, which is what we want (a publication that could not enrol is not half
done). Callables must be idempotent: publication runs again at will.
"""

from collections.abc import Callable

on_published: list[Callable[..., None]] = []
on_withdrawn: list[Callable[..., None]] = []


def connect_published(fn: Callable[..., None]) -> None:
    """Register ``fn(*, appel, staff_user)``; registering it twice keeps one (ready() may rerun)."""
    if fn not in on_published:
        on_published.append(fn)


def connect_withdrawn(fn: Callable[..., None]) -> None:
    """Register ``fn(*, candidature, now)``; registering it twice keeps one."""
    if fn not in on_withdrawn:
        on_withdrawn.append(fn)


def published(*, appel, staff_user) -> None:
    """Tell every registered app that ``appel``'s decisions are public."""
    for fn in on_published:
        fn(appel=appel, staff_user=staff_user)


def withdrawn(*, candidature, now) -> None:
    """Tell every registered app that ``candidature``'s collectivité withdrew at ``now``."""
    for fn in on_withdrawn:
        fn(candidature=candidature, now=now)
