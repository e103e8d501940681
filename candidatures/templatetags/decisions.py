"""Template access to a published decision, through the one rule that says who sees it."""

from django import template

from ..models import Decision

register = template.Library()


@register.simple_tag
def decision_publiee(candidature, user):
    """The dossier's decision when ``user`` may read it (their own dossier, once published),
    else None: a staged decision never reaches a template of the applicant's pages."""
    if candidature.appel.decisions_published_at is None:
        # The publication services stamp the call when they publish its first decisions:
        # before that no decision is readable, and the dossier's pages ask nothing.
        return None
    return (
        Decision.objects.visible_to_applicant(user)
        .filter(candidature=candidature)
        .prefetch_related("courriers")
        .first()
    )
