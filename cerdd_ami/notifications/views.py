from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import PreferenceForm
from .models import Notification, Preference

RECENT = 50


@never_cache
@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def mes_notifications(request):
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            services.set_preference(user=request.user, mode=form.cleaned_data["mode"])
            messages.success(request, "Votre choix est enregistré.")
            return redirect("notifications:mes_notifications")
    else:
        form = PreferenceForm(initial={"mode": services.mode_of(request.user)})
    notifications = Notification.objects.of_user(request.user)[:RECENT]
    return render(
        request,
        "cerdd_ami/notifications/mes_notifications.html",
        {"form": form, "notifications": notifications},
    )


@require_POST
@login_required
def tout_marquer_lu(request):
    count = services.mark_all_read(user=request.user)
    if count:
        messages.success(request, "Toutes vos notifications sont marquées comme lues.")
    return redirect("notifications:mes_notifications")


# The one-click unsubscribe of mail clients (RFC 8058) POSTs without any cookie or CSRF token:
# the signed token in the URL is the only credential, and the only effect is « aucun e-mail ».
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def desabonnement(request, token):
    user = services.user_from_token(token)
    if user is None:
        return render(request, "cerdd_ami/notifications/desabonnement_invalide.html", status=404)
    if request.method == "POST":
        services.set_preference(user=user, mode=Preference.Mode.AUCUN)
        return render(
            request, "cerdd_ami/notifications/desabonnement_fait.html", {"email": user.email}
        )
    return render(
        request, "cerdd_ami/notifications/desabonnement.html", {"email": user.email, "token": token}
    )
