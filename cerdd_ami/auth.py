from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from django.conf import settings
from django.db.models import Sum

# AccessAttempt.username's column.
AXES_USERNAME_MAX_LENGTH = 255


def axes_username(request, credentials):
    """The login that django-axes counts failures against.

    Our users log in with their e-mail address: Django passes it as ``email`` to the
    backends, while the admin form posts it as ``username``. Lower-cased, so that changing
    letter case does not buy an attacker more attempts. Cut to the length axes stores: the
    admin's form lets any length reach authentication, and no address that long is an
    account (e-mail addresses stop at 254 characters).
    """
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return (value or "").strip().lower()[:AXES_USERNAME_MAX_LENGTH] or None


def client_ip(request):
    """The address django-axes locks out.

    Behind our reverse proxy REMOTE_ADDR is the proxy itself; PROXY_COUNT trusted proxies
    each append one address to X-Forwarded-For, so the client is that many from the right.
    """
    proxies = settings.PROXY_COUNT
    if proxies:
        forwarded = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR")


class LockoutHandler(AxesDatabaseHandler):
    """django-axes, with two budgets: AXES_FAILURE_LIMIT failures for one account from one
    address, and AXES_IP_FAILURE_LIMIT for one address over every account (password spraying:
    one password tried on many accounts). A Cerdd office shares one address: its budget is
    larger than one person's.

    Relies on AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"], in that
    order: axes answers one querySet of attempts per parameter.
    """

    def get_failures(self, request, credentials=None) -> int:
        per_account, per_address = (
            attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            for attempts in self.get_user_attempts(request, credentials)
        )
        if per_address >= settings.AXES_IP_FAILURE_LIMIT:
            # Locked whatever the account: axes compares this number with AXES_FAILURE_LIMIT.
            return max(per_account, get_failure_limit(request, credentials))
        return per_account
