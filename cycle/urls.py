from django.urls import include, path

from cycle import views

app_name = "cycle"

# Each sub-package's routes keep the ``cycle:`` names (their urls.py set no namespace).
urlpatterns = [
    path("", views.espace, name="espace"),
    path("", include("cycle.participants.urls")),
    path("", include("cycle.presences.urls")),
    path("", include("cycle.sondage.urls")),
    path("", include("cycle.journal.urls")),
    path("", include("cycle.reseau.urls")),
    path("", include("cycle.questions.urls")),
]
