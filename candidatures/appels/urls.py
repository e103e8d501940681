"""Public pages of the calls; included by candidatures/urls.py in the ``candidatures`` namespace."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("appel/<slug:slug>/", views.appel_detail, name="appel"),
    path("collectivites/recherche/", views.collectivite_search, name="collectivite_search"),
]
