import time

from cycle.participants.models import Participant

# The menu's « Espace du cycle » check is remembered in the session for this long: it was the
# costliest query of every page an applicant opens (docs/performance.md), and a participation
# appears only when staff enrol a collectivité, so a link showing up within minutes is enough.
PARTICIPATION_CHECK_SECONDS = 300
SESSION_KEY = "cycle_participation"


def participation(request):
    """Whether the signed-in person takes part in a cycle (« Espace du cycle » in the menu).

    A callable: the template asks only for signed-in applicants, once per page. The answer is
    kept in the session with the user's id and is asked again after
    ``PARTICIPATION_CHECK_SECONDS``.
    """

    def participe():
        user = request.user
        session = getattr(request, "session", None)
        now = time.time()
        remembered = session.get(SESSION_KEY) if session is not None else None
        if remembered and remembered[0] == user.pk and remembered[2] > now:
            return remembered[1]
        value = Participant.objects.of_user(user).exists()
        if session is not None:
            session[SESSION_KEY] = [user.pk, value, now + PARTICIPATION_CHECK_SECONDS]
        return value

    return {"participe_au_cycle": participe}
