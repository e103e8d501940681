def axes_username(request, credentials):
    """The login that django-axes counts failures against.

    Our users log in with their e-mail address: Django passes it as ``email`` to the
    backends, while the admin form posts it as ``username``. Lower-cased, so that changing
    letter case does not buy an attacker more attempts.
    """
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return (value or "").strip().lower() or None


def client_ip(request):
    """The address django-axes locks out.

    Behind our reverse proxy REMOTE_ADDR is the proxy itself; PROXY_COUNT trusted proxies
    each append one address to X-Forwarded-For, so the client is that many from the right.
    """
    from django.conf import settings

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
