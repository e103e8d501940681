from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import logout as auth_logout
from django.shortcuts import redirect, render, resolve_url
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from sesame.utils import get_user

from cerdd_ami.auth import client_ip

from .forms import SignInForm
from .signin import SignInThrottled, link_validity_minutes, safe_next_url, send_sign_in_link

# The address shown on the "link sent" page; kept in the session so it never sits in a URL.
SESSION_EMAIL_KEY = "lien_connexion_email"

THROTTLED_MESSAGE = (
    "Trop de demandes de lien de connexion ont été faites pour cette adresse ou depuis "
    "votre connexion internet. Par sécurité, réessayez dans une heure. Si vous avez déjà "
    "reçu un lien, il reste utilisable pendant sa durée de validité."
)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def request_link(request):
    if request.user.is_authenticated:
        return render(request, "candidatures/signin/signed_in.html")

    status = 200
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            email = form.cleaned_data["email"]
            try:
                send_sign_in_link(
                    email=email, ip=client_ip(request), next_url=form.cleaned_data["next"]
                )
            except SignInThrottled:
                form.add_error(None, THROTTLED_MESSAGE)
                status = 429
            else:
                # Whatever happened (mail sent or not), the next page is the same: it must not
                # reveal which addresses exist or belong to staff.
                request.session[SESSION_EMAIL_KEY] = email
                return redirect("candidatures:lien_envoye")
    else:
        form = SignInForm(initial={"next": safe_next_url(request.GET.get("next"))})
    return render(
        request,
        "candidatures/signin/request_link.html",
        {"form": form, "minutes": link_validity_minutes()},
        status=status,
    )


@never_cache
@require_safe
def link_sent(request):
    email = request.session.get(SESSION_EMAIL_KEY)
    if not email:
        return redirect("candidatures:connexion")
    return render(
        request,
        "candidatures/signin/link_sent.html",
        {"email": email, "minutes": link_validity_minutes()},
    )


@never_cache
@require_safe
def login_with_link(request):
    # A plain GET signs in, so that a click in any mail client just works. The price: a mail
    # security scanner that fetches links would spend the one-time link before the person does;
    # they then see the "no longer valid" page and ask for a new link in one click.
    user = get_user(request)
    if user is None or user.is_staff:
        # Staff must come through the admin's password and lockout, never through a link.
        return render(
            request,
            "candidatures/signin/link_invalid.html",
            {
                "minutes": link_validity_minutes(),
                "next_url": safe_next_url(request.GET.get("next")),
            },
            status=403,
        )
    login(request, user, backend="sesame.backends.ModelBackend")
    return redirect(safe_next_url(request.GET.get("next")) or _landing(user))


def _landing(user) -> str:
    """A returning applicant's own dossier, or the list when they have none or several."""
    # Dossiers are a later layer (candidatures.dossiers): looked up by name, not imported.
    Candidature = apps.get_model("candidatures", "Candidature")
    dossiers = list(Candidature.objects.visible_to(user).order_by("pk")[:2])
    if len(dossiers) == 1:
        return dossiers[0].get_absolute_url()
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@require_POST
def logout(request):
    auth_logout(request)
    messages.success(request, "Vous êtes déconnecté·e.")
    return redirect("candidatures:home")
