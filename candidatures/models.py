"""The app's models index: Django loads ``candidatures.models``, and the migrations reference
some names here by dotted path (``piece_upload_to``). Each model lives in its sub-package
(appels, connexion, dossiers, jury, decisions); this module imports them all and defines none.
"""

from .appels.models import (  # noqa: F401
    Appel,
    AppelQuerySet,
    Collectivite,
    CollectiviteQuerySet,
    Critere,
    NiveauCritere,
    end_of_day,
    search_key,
)
from .connexion.models import DemandeLienConnexion  # noqa: F401
from .decisions.models import (  # noqa: F401
    Courrier,
    Decision,
    DecisionQuerySet,
    EnvoiCourrier,
    Export,
    ExportQuerySet,
    Issue,
    ModeleCourrier,
)
from .dossiers.models import (  # noqa: F401
    AccesCandidature,
    Brouillon,
    BrouillonManager,
    Candidature,
    CandidatureQuerySet,
    Depot,
    Evenement,
    PieceJointe,
    piece_upload_to,
)
from .jury.models import (  # noqa: F401
    Affectation,
    ConflitInteret,
    DossierJury,
    Evaluation,
    EvaluationQuerySet,
    MembreJury,
    Note,
    RappelJury,
    Recommandation,
)
from .messagerie.models import Message, MessageQuerySet, message_upload_to  # noqa: F401
from .questionnaires.models import EtapeQuestionnaire, Question, Reponse  # noqa: F401
