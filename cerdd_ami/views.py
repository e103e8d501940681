from django.conf import settings
from django.db import DatabaseError, connection
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from .mail import outbox_message, outbox_messages


@never_cache
@require_safe
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@require_safe
def favicon(request):
    """Browsers and feed readers ask for /favicon.ico whatever the page links: the site's icon."""
    return redirect(static("favicon.svg"))


def _require_dev_outbox():
    # The outbox holds sign-in links: it must not exist outside development.
    if not settings.DEBUG:
        raise Http404


@never_cache
def outbox_list(request):
    _require_dev_outbox()
    return render(request, "dev/outbox_list.html", {"messages_list": outbox_messages()})


@never_cache
def outbox_detail(request, message_id):
    _require_dev_outbox()
    message = outbox_message(message_id)
    if message is None:
        raise Http404
    return render(request, "dev/outbox_detail.html", {"message": message})


@never_cache
def outbox_attachment(request, message_id, index):
    _require_dev_outbox()
    message = outbox_message(message_id)
    attachment = message.attachment(index) if message else None
    if attachment is None:
        raise Http404
    name, content_type, payload = attachment
    response = HttpResponse(payload, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response
