from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from .models import Appel, Collectivite

SEARCH_RESULTS_LIMIT = 15
# The longest name in the registry is under 100 characters; a longer query only costs time
# (one condition per word).
SEARCH_QUERY_MAX_LENGTH = 100


def _render_appel(request, appel):
    return render(
        request,
        "candidatures/appel.html",
        {"appel": appel, "etat": appel.etat() if appel else None, "Etat": Appel.Etat},
    )


@require_safe
def home(request):
    """Every open call, the soonest to close first; when none is open, the page of the next
    call, else of the latest."""
    appels = list(Appel.objects.open_now())
    if not appels:
        return _render_appel(request, Appel.objects.current())
    return render(request, "candidatures/accueil.html", {"appels": appels})


@require_safe
def appel_detail(request, slug):
    return _render_appel(request, get_object_or_404(Appel.objects.published(), slug=slug))


@require_safe
def collectivite_search(request):
    """Search results as an HTML fragment, for the picker's progressive enhancement."""
    appel = Appel.objects.published().filter(slug=request.GET.get("appel", "")).first()
    if appel is None:
        raise Http404
    query = request.GET.get("q", "")
    return render(
        request,
        "candidatures/nouvelle.html#resultats",
        {"appel": appel, "query": query, "resultats": search_results(query, appel)},
    )


def search_results(query, appel):
    """Matching collectivités with, for each, why it cannot apply (empty when it can)."""
    found = list(
        Collectivite.objects.filter(active=True)
        .search(query[:SEARCH_QUERY_MAX_LENGTH])
        .select_related("epci")[:SEARCH_RESULTS_LIMIT]
    )
    return [(item, item.ineligibility_reason(appel)) for item in found]
