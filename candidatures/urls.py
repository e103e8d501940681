from django.urls import include, path

from .decisions import views as decision
from .dossiers.views import dossier, etapes, files

app_name = "candidatures"

urlpatterns = [
    path("", include("candidatures.appels.urls")),
    path("", include("candidatures.connexion.urls")),
    path("", include("candidatures.messagerie.urls")),
    path("candidature/", dossier.mes_candidatures, name="mes_candidatures"),
    path("candidature/nouvelle/<slug:slug>/", dossier.nouvelle, name="nouvelle"),
    path("candidature/<int:pk>/", dossier.detail, name="dossier"),
    path("candidature/<int:pk>/etape/<int:step>/", etapes.step, name="etape"),
    path("candidature/<int:pk>/deposer/", etapes.submit, name="deposer"),
    path("candidature/<int:pk>/rouvrir/", dossier.reopen, name="rouvrir"),
    path("candidature/<int:pk>/inviter/", dossier.invite, name="inviter"),
    path("candidature/<int:pk>/mes-donnees/", dossier.my_data, name="mes_donnees"),
    path(
        "candidature/<int:pk>/pieces/<int:piece_pk>/supprimer/",
        etapes.delete_piece,
        name="supprimer_piece",
    ),
    path("candidature/<int:pk>/pieces/<int:piece_pk>/", files.piece, name="piece"),
    path("candidature/<int:pk>/recu/<int:version>/", files.recu, name="recu"),
    path("candidature/<int:pk>/courrier/", decision.courrier, name="courrier"),
]
