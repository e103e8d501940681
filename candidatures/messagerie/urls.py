from django.urls import path

from . import views

# Included by candidatures/urls.py (namespace ``candidatures``).
urlpatterns = [
    path("candidature/<int:pk>/messages/", views.thread, name="messages"),
    path(
        "candidature/<int:pk>/messages/<int:message_pk>/fichier/",
        views.fichier,
        name="message_fichier",
    ),
]
