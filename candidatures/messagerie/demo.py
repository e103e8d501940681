"""Demo threads (``seed_demo``): questions and answers on a few dossiers of a call, one
« demande de complément » answered with its piece. Idempotent: a call with threads is left."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from . import services
from .models import Message

DEMO_PDF = b"%PDF-1.4\n% Deliberation (demo)\n"


def seed_messages(appel, *, staff_user) -> int:
    """Threads on the first three dossiers of ``appel`` that have a référent·e; returns how
    many threads it wrote."""
    written = 0
    if Message.objects.filter(candidature__appel=appel).exists():
        return 0
    dossiers = (
        appel.candidatures.filter(acces__isnull=False)
        .select_related("appel", "collectivite")
        .distinct()
        .order_by("numero", "pk")[:3]
    )
    for index, dossier in enumerate(dossiers):
        referent = dossier.acces.select_related("user").first().user
        services.post_message(
            candidature=dossier,
            auteur=referent,
            texte="Bonjour,\nnotre conseil municipal se réunit après la date limite : "
            "pouvons-nous envoyer la délibération ensuite ?",
        )
        if index == 0:
            demande = services.ask_complement(
                candidature=dossier,
                staff_user=staff_user,
                texte="Bonjour,\noui : joignez ici la délibération du conseil municipal "
                "dès qu'elle est signée.",
                echeance=timezone.now() + timedelta(days=30),
            )
            services.answer_complement(
                demande=demande,
                auteur=referent,
                texte="Voici la délibération signée.",
                fichier=SimpleUploadedFile("deliberation.pdf", DEMO_PDF, "application/pdf"),
            )
        elif index == 1:
            services.post_message(
                candidature=dossier,
                auteur=staff_user,
                texte="Bonjour,\nvotre dossier est complet ; le jury se réunit bientôt.",
            )
        written += 1
    return written
