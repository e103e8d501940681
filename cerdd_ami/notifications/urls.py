from django.urls import path

from . import views

app_name = "notifications"

urlpatterns = [
    path("", views.mes_notifications, name="mes_notifications"),
    path("tout-marquer-lu/", views.tout_marquer_lu, name="tout_marquer_lu"),
    path("desabonnement/<str:token>/", views.desabonnement, name="desabonnement"),
]
