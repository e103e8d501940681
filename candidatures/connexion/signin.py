"""Password-less sign-in for applicants: one-time links sent by e-mail (django-sesame).

Applicants never get a password: the link is the only credential, so it is short-lived
(SESAME_MAX_AGE), single-use (SESAME_ONE_TIME: any login revokes every outstanding link) and
rate-limited per address and per IP. Staff keep their password and the admin's lockout.
"""

import ipaddress
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from sesame.utils import get_query_string

from cerdd_ami.emails import build_email, send_on_commit

from .models import DemandeLienConnexion

# Namespaces for the two advisory locks, so an address and an IP never share a lock.
_LOCK_ADDRESS = 7301
_LOCK_IP = 7302


class SignInThrottled(Exception):
    """Too many e-mails (sign-in links, invitations, access requests) asked for this address
    or from this IP within the last hour."""


def axes_ignores_sign_in_links(request, credentials) -> bool:
    """AXES_WHITELIST_CALLABLE: keep django-axes to password logins.

    A dead link fails authentication without a username, so axes would count it against the
    IP alone: a few stale links clicked in one town hall would lock every applicant behind
    that address out of link sign-in. Links cannot be guessed, and requests for them are
    throttled here, so axes has nothing to protect on this path.
    """
    return "sesame" in (credentials or {})


def link_validity_minutes() -> int:
    return settings.SESAME_MAX_AGE // 60


def safe_next_url(url: str | None) -> str:
    """``url`` if it is a path on this site, else "".

    Only local paths are kept: a sign-in link must never become an open redirect, even when
    it travels by e-mail with no request to compare hosts against.
    """
    url = (url or "").strip()
    if not url.startswith("/") or not url_has_allowed_host_and_scheme(url, allowed_hosts=set()):
        return ""
    return url


def build_login_url(user, *, next_url: str = "") -> str:
    """Absolute one-time sign-in URL for ``user``, landing on ``next_url`` when it is local.

    The token is bound to the user's last login: it dies as soon as the user signs in by any
    means, and after SESAME_MAX_AGE. Staff users cannot use such a link (see the view).
    """
    url = settings.SITE_URL + reverse("candidatures:lien_connexion") + get_query_string(user)
    next_url = safe_next_url(next_url)
    if next_url:
        url += "&" + urlencode({"next": next_url}, safe="/")
    return url


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def _normalise_ip(ip: str | None) -> str | None:
    # X-Forwarded-For is client-controlled: a malformed value must not reach an inet column.
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return None


def _lock(namespace: int, key: str) -> None:
    # Serialises concurrent requests for one address (or IP) until the transaction ends, so a
    # burst of parallel requests cannot all read the same count and overshoot the limit.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [namespace, key])


def _create_applicant(email: str):
    User = get_user_model()
    try:
        with transaction.atomic():
            # No password at all: the account can only be reached by a link.
            return User.objects.create_user(email=email, password=None)
    except IntegrityError:
        # Another request created the same account between our read and our write.
        return User.objects.get(email__iexact=email)


def _send_link_email_on_commit(user, *, next_url: str) -> None:
    # After the commit, not through the task queue: the applicant is waiting for this link,
    # and in a rush a queued e-mail would wait behind the receipts the worker renders (a
    # minute or more) while the link's validity runs. on_commit sends it as soon as the
    # transaction ends, so outside the advisory locks of ``spend_mail_budget``: a slow mail
    # server no longer holds up the other requests of the same address or IP. A mail server
    # failure is logged (robust) and the page answers the same; the applicant asks again.
    context = {
        "link": build_login_url(user, next_url=next_url),
        "minutes": link_validity_minutes(),
        "site_url": settings.SITE_URL,
        "request_link_url": settings.SITE_URL + reverse("candidatures:connexion"),
    }
    send_on_commit(build_email("lien_connexion", context, to=[user.email]))


@transaction.atomic
def spend_mail_budget(*, email: str, ip: str | None) -> None:
    """Count one e-mail that anybody may trigger against the budget of ``email`` and ``ip``.

    Sign-in links, co-référent·e invitations (which carry a sign-in link) and access requests
    share one budget: SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR per address,
    SIGN_IN_LINKS_PER_IP_PER_HOUR per IP, over the last hour. Raises ``SignInThrottled``
    (nothing written) when either is spent; otherwise writes one ``DemandeLienConnexion`` row,
    committed with the caller's transaction.
    """
    email = normalise_email(email)
    ip = _normalise_ip(ip)
    since = timezone.now() - timedelta(hours=1)

    _lock(_LOCK_ADDRESS, email)
    recent = DemandeLienConnexion.objects.filter(created_at__gte=since)
    if recent.filter(email=email).count() >= settings.SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR:
        raise SignInThrottled
    if ip is not None:
        _lock(_LOCK_IP, ip)
        if recent.filter(ip=ip).count() >= settings.SIGN_IN_LINKS_PER_IP_PER_HOUR:
            raise SignInThrottled

    DemandeLienConnexion.objects.create(email=email, ip=ip)


@transaction.atomic
def send_sign_in_link(*, email: str, ip: str | None, next_url: str = "") -> bool:
    """Record a sign-in link request and, when allowed, e-mail a one-time link.

    Side effects, all in one transaction:
    - raises ``SignInThrottled`` (nothing written, nothing sent) when the address already asked
      SIGN_IN_LINKS_PER_ADDRESS_PER_HOUR links, or the IP SIGN_IN_LINKS_PER_IP_PER_HOUR links,
      within the last hour;
    - otherwise writes one ``DemandeLienConnexion`` row;
    - creates the applicant's ``User`` (unusable password, never staff) if the address is new;
    - once committed (outside the locks), sends one e-mail with the link, unless the account
      is staff or inactive: staff sign in to the admin with their password, and a link would
      bypass it.

    Returns True when an e-mail is to be sent. Callers must answer the same way either way, so
    that nobody learns which addresses belong to staff.
    """
    email = normalise_email(email)
    spend_mail_budget(email=email, ip=ip)

    User = get_user_model()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None and (existing.is_staff or not existing.is_active):
        return False
    user = existing or _create_applicant(email)
    _send_link_email_on_commit(user, next_url=next_url)
    return True
