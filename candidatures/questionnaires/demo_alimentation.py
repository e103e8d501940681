"""The public texts of the demo's second programme's call, « Alimentation durable »: a Cerdd
programme that helps collectivités build a sustainable, local and accessible food policy.
Same fields and layout as the 2021 call's texts (``candidatures.appels.seed``)."""

# The call's own prose, kept paragraph by paragraph as staff see it in the admin.
# ruff: noqa: E501

from candidatures.appels.seed import CRITERES

# Nothing of « Territoires participatifs » may show on its pages.
ALIMENTATION_TEXTS = {
    "accroche": (
        "Un cycle de qualification de sept journées, gratuit, pour les élu·es et "
        "technicien·nes des communes et intercommunalités qui veulent bâtir une alimentation "
        "durable, locale et accessible à toutes et tous."
    ),
    "presentation": """Depuis 2001, le Centre Ressource du Développement Durable (Cerdd) outille et accompagne les acteurs de la région vers de nouveaux modèles de société et les incite à être acteurs des transitions économique, sociale et écologique dans les territoires.

L'objectif du programme Alimentation durable : aider les collectivités des Hauts-de-France à construire une politique alimentaire durable, locale et accessible à toutes et tous, en proposant aux élu·es et technicien·nes des outils de qualification et d'échange entre pairs pour relier agriculture, restauration collective, santé, économie locale et solidarité.

Le programme s'inscrit dans la dynamique des projets alimentaires territoriaux (PAT) : il s'adresse aussi bien aux territoires qui amorcent leur réflexion qu'à ceux dont le PAT est déjà labellisé et qui veulent passer du plan à l'action.""",
    "objectifs": """Le défi est grand : passer d'actions isolées (une cantine bio, un marché de producteurs, une épicerie solidaire) à une politique alimentaire de territoire, cohérente et construite avec les acteurs locaux.

Le cycle de qualification vise à :
– partager une lecture commune des enjeux de l'alimentation : santé, climat, biodiversité, foncier agricole, revenu des agriculteur·rices, accès de toutes et tous à une alimentation de qualité ;
– outiller les collectivités avec des méthodes concrètes pour bâtir ou faire vivre leur projet alimentaire territorial : diagnostic, gouvernance avec les acteurs du territoire, plan d'action, suivi.

Il s'agit de découvrir les leviers à la portée d'une commune ou d'une intercommunalité — restauration collective, commande publique, circuits courts, foncier agricole, lutte contre le gaspillage et contre la précarité alimentaire — et de repérer les partenaires et ressources mobilisables pour passer à l'action.""",
    "cycle": """Un cycle de 7 séances de travail d'une journée chacune, une séance toutes les 6 semaines environ (dates et lieu de la première journée dans le calendrier).

Chaque séance : une note de contexte envoyée en amont ; une matinée d'apports d'expertise, de retours d'expériences et de débat ; un déjeuner en commun, cuisiné autant que possible avec des produits locaux ; un après-midi de visite de terrain (cuisine centrale, légumerie, ferme, épicerie solidaire) ou d'exercices de mise en situation.

Le cycle s'adresse aux élu·es et technicien·nes des intercommunalités ou communes des Hauts-de-France. Un binôme élu·e / technicien·ne à chaque journée est vivement conseillé. Un dispositif gratuit, des conseils méthodologiques, un appui en continu entre les séances, une mise en réseau des membres et une capitalisation du cycle.

Au lancement du cycle, un journal de bord sera remis à chaque participant·e pour noter les points forts retenus, les points de vigilance, les idées et les marges de progression ; il sera mis en discussion au démarrage de chaque journée.""",
    "attentes": """La collectivité qui suit ce cycle s'engage à chercher à expérimenter sur son territoire les outils et acquis des séances. Par exemple : présentation par les élu·es du binôme des grands messages du cycle au conseil municipal ou communautaire ; davantage de produits durables et locaux dans un marché de restauration collective ; lancement ou relance du diagnostic d'un projet alimentaire territorial ; action contre la précarité alimentaire avec le CCAS et les associations d'aide alimentaire ; échange avec une autre collectivité engagée.""",
    "bonnes_raisons": """1. Construire une vision partagée de l'alimentation de votre territoire, de la fourche à la fourchette, pour en faire un levier de sa transition écologique et sociale.
2. Disposer d'un espace unique en région pour se poser les bonnes questions : qui produit, qui mange quoi, qui n'a pas accès à une alimentation de qualité, et que peut faire la collectivité ?
3. Découvrir des outils et des retours d'expériences concrets : diagnostic alimentaire, marchés publics qui atteignent les objectifs de la loi EGalim, installation agricole, épiceries solidaires.
4. Échanger entre pairs et avec des expert·es pour mieux comprendre les points de blocage éventuels, les opportunités à saisir, les leviers à activer.
5. Travailler collectivement un argumentaire robuste pour embarquer les collègues élu·es et technicien·nes, les agriculteur·rices et les habitant·es dans le projet alimentaire de votre territoire.""",
    "criteres_texte": """– Être une collectivité des Hauts-de-France (commune ou EPCI) qui agit déjà sur l'alimentation (restauration scolaire, développement économique, action sociale, aménagement) ou qui a l'intention franche d'en faire une politique.
– Une collectivité motivée, déterminée et humble en arrivant dans ce cycle.
– Une collectivité qui explique dans sa candidature la place qu'elle accorde ou souhaite accorder à l'alimentation dans son projet de territoire, l'objectif qu'elle recherche en suivant ce cycle, et ce qu'elle pense apporter au cycle.
– Une présence garantie d'un binôme élu·e et technicien·ne à chaque séance du cycle.

Un jury composé de membres de la cellule d'orientation appuiera le Cerdd dans son analyse des candidatures reçues.""",
}

# The jury's grid, one line per criterion of ``criteres_texte`` (levels 0 to 4): the motivation
# and the binôme are judged as in « Territoires participatifs ».
_MOTIVATION, _BINOME = CRITERES[1], CRITERES[3]
ALIMENTATION_CRITERES = [
    (
        "Action ou intention sur l'alimentation",
        "Restauration scolaire, développement économique, action sociale, aménagement… ou "
        "intention franche d'en faire une politique.",
        [
            "Aucune action ni intention exprimée sur l'alimentation.",
            "Intention exprimée, sans action engagée.",
            "Une action engagée, encore isolée.",
            "Plusieurs actions engagées et cohérentes entre elles.",
            "Politique alimentaire structurée et portée politiquement (PAT ou équivalent).",
        ],
    ),
    _MOTIVATION,
    (
        "Place de l'alimentation dans le projet de territoire et apport au cycle",
        "La candidature explique la place accordée à l'alimentation, l'objectif recherché en "
        "suivant le cycle et ce que la collectivité pense apporter.",
        [
            "La candidature n'aborde pas ces points.",
            "Un seul des trois points est traité.",
            "Deux points traités, ou trois superficiellement.",
            "Les trois points traités avec des exemples.",
            "Les trois points traités de façon approfondie et inspirante pour le groupe.",
        ],
    ),
    _BINOME,
]
