"""Index of the cycle app's models: Django loads ``cycle.models``; each model lives in the
sub-package of its sub-domain. Migration 0004 references ``document_seance_upload_to`` here."""

from cycle.journal.models import (
    AvancementEngagement,
    Engagement,
    EntreeJournal,
    ReponseFacilitateur,
)
from cycle.participants.models import MembreBinome, Participant
from cycle.presences.models import Presence
from cycle.questions.models import EntreeFAQ, QuestionCerdd
from cycle.reseau.models import (
    Abonnement,
    ConsentementAnnuaire,
    Discussion,
    MessageReseau,
)
from cycle.seances.models import (
    Cycle,
    DocumentSeance,
    EnvoiNoteContexte,
    Seance,
    document_seance_upload_to,
)
from cycle.sondage.models import ChoixTheme, ReponseSondage

__all__ = [
    "Abonnement",
    "AvancementEngagement",
    "ChoixTheme",
    "ConsentementAnnuaire",
    "Cycle",
    "Discussion",
    "DocumentSeance",
    "Engagement",
    "EntreeFAQ",
    "EntreeJournal",
    "EnvoiNoteContexte",
    "MembreBinome",
    "MessageReseau",
    "Participant",
    "Presence",
    "QuestionCerdd",
    "ReponseFacilitateur",
    "ReponseSondage",
    "Seance",
    "document_seance_upload_to",
]
