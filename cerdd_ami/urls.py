from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import views

# A database outage is a 503 « réessayez », not a 500.
handler500 = "cerdd_ami.outage.server_error"

# The development outbox shows every e-mail sent, sign-in links included: its URLs exist only
# in a process started with DEBUG on (the views refuse too, should DEBUG change at run time).
dev_urlpatterns = [
    path("dev/outbox/", views.outbox_list, name="dev_outbox"),
    path("dev/outbox/<str:message_id>/", views.outbox_detail, name="dev_outbox_detail"),
    path(
        "dev/outbox/<str:message_id>/piece/<int:index>/",
        views.outbox_attachment,
        name="dev_outbox_attachment",
    ),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    *(dev_urlpatterns if settings.DEBUG else []),
    path("admin/", admin.site.urls),
    path("notifications/", include("cerdd_ami.notifications.urls")),
    path("cycle/", include("cycle.urls")),
    path("", include("candidatures.urls")),
]
