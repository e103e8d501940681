from cycle.participants.models import Participant


def participation(request):
    """Whether the signed-in person takes part in a cycle (« Espace du cycle » in the menu).

    A callable: the template asks only for signed-in applicants, once per page.
    """
    return {
        "participe_au_cycle": lambda: Participant.objects.of_user(request.user).exists(),
    }
