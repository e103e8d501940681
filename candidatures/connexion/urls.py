"""Password-less sign-in; included by candidatures/urls.py in the ``candidatures`` namespace."""

from django.urls import path

from . import views

urlpatterns = [
    path("connexion/", views.request_link, name="connexion"),
    path("connexion/lien-envoye/", views.link_sent, name="lien_envoye"),
    path("connexion/lien/", views.login_with_link, name="lien_connexion"),
    path("deconnexion/", views.logout, name="deconnexion"),
]
