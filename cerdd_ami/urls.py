from django.contrib import admin
from django.urls import include, path

from . import views

# A database outage is a 503 « réessayez », not a 500.
handler500 = "cerdd_ami.outage.server_error"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("dev/outbox/", views.outbox_list, name="dev_outbox"),
    path("dev/outbox/<str:message_id>/", views.outbox_detail, name="dev_outbox_detail"),
    path(
        "dev/outbox/<str:message_id>/piece/<int:index>/",
        views.outbox_attachment,
        name="dev_outbox_attachment",
    ),
    path("admin/", admin.site.urls),
    path("cycle/", include("cycle.urls")),
    path("", include("candidatures.urls")),
]
