"""Demo candidatures for seed_demo: about thirty dossiers of the 2021 call in every state, and
the seventeen of the recent call (fifteen submitted, two drafts that missed the deadline)."""

import zoneinfo
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import override_settings

from candidatures.appels.models import Collectivite
from candidatures.dossiers import services, submission
from candidatures.questionnaires.models import Question, Reponse
from cerdd_ami.files import sha256_of
from cerdd_ami.models import User
from cerdd_ami.pdf import pdf_from_html

from .models import AccesCandidature, Candidature, Evenement, PieceJointe

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

# (INSEE code or EPCI SIREN, state) — five départements, communes and EPCI, every state.
DEMO_DOSSIERS = [
    ("62528", "deposee"),  # Loos-en-Gohelle
    ("200033579", "deposee"),  # CU d'Arras
    ("62041", "deposee"),  # Arras: flagged with its EPCI
    ("59350", "deposee"),  # Lille
    ("200093201", "deposee"),  # Métropole Européenne de Lille
    ("59183", "deposee"),  # Dunkerque
    ("59606", "deposee"),  # Valenciennes
    ("59599", "deposee"),  # Tourcoing
    ("59512", "deposee"),  # Roubaix
    ("80021", "deposee"),  # Amiens
    ("80001", "deposee"),  # Abbeville
    ("200070993", "deposee"),  # CA de la Baie de Somme
    ("60057", "deposee"),  # Beauvais
    ("60159", "deposee"),  # Compiègne
    ("60175", "deposee"),  # Creil
    ("02691", "deposee"),  # Saint-Quentin
    ("02408", "deposee"),  # Laon
    ("02722", "deposee"),  # Soissons
    ("62193", "deposee"),  # Calais
    ("62160", "deposee"),  # Boulogne-sur-Mer
    ("62765", "deposee"),  # Saint-Omer
    ("62498", "deposee"),  # Lens
    ("59392", "redeposee"),  # Maubeuge: reopened and submitted again
    ("62119", "prolongee"),  # Béthune: submitted after a granted extension
    ("59178", "brouillon_complet"),  # Douai: complete but never submitted
    ("80620", "brouillon"),  # Péronne
    ("60463", "brouillon"),  # Noyon
    ("02173", "brouillon"),  # Château-Thierry
    ("62617", "brouillon"),  # Montreuil
    ("59295", "brouillon"),  # Hazebrouck
]

# The recent call: new territories, and two communes the 2021 jury encouraged to apply again
# (Maubeuge and Laon), Maubeuge together with its agglomération (flagged, not refused).
# Achicourt belongs to the CU d'Arras: the juror from the CU has a conflict of interest.
RECENT_DOSSIERS = [
    ("62004", "deposee"),  # Achicourt (CU d'Arras)
    ("59009", "deposee"),  # Villeneuve-d'Ascq
    ("62065", "deposee"),  # Avion
    ("80016", "deposee"),  # Albert
    ("59392", "deposee"),  # Maubeuge: applies again after 2021
    ("200043396", "deposee"),  # CA Maubeuge Val de Sambre
    ("60088", "deposee"),  # Bornel
    ("02810", "deposee"),  # Villers-Cotterêts
    ("62427", "deposee"),  # Hénin-Beaumont
    ("62893", "deposee"),  # Wimereux
    ("59017", "deposee"),  # Armentières
    ("02381", "deposee"),  # Hirson
    ("60612", "deposee"),  # Senlis
    ("02408", "deposee"),  # Laon: applies again after 2021
    ("62510", "deposee"),  # Liévin
    ("60471", "brouillon"),  # Noyon
    ("59560", "brouillon"),  # Seclin
]

PEOPLE = [
    ("Marie", "Lefebvre"),
    ("Thomas", "Dubois"),
    ("Camille", "Martin"),
    ("Nicolas", "Leroy"),
    ("Julie", "Moreau"),
    ("Karim", "Haddad"),
    ("Sandrine", "Petit"),
    ("Olivier", "Lambert"),
    ("Aurélie", "Fontaine"),
    ("Mathieu", "Roussel"),
    ("Élodie", "Vasseur"),
    ("Sébastien", "Caron"),
    ("Nathalie", "Delcourt"),
    ("Youssef", "Amrani"),
    ("Céline", "Deprez"),
    ("François", "Lemaire"),
]

MOTIVATIONS = [
    "Notre conseil municipal a voté un Plan Climat en 2020 et nous voulons que les habitant·es "
    "en deviennent coauteur·rices. Nous arrivons avec beaucoup de questions et l'envie "
    "d'apprendre des autres territoires.",
    "Après une première concertation sur la rénovation du centre-bourg, nous mesurons ce qu'il "
    "nous manque pour associer durablement les citoyen·nes aux décisions de transition.",
    "La participation est au cœur de notre projet de mandat : nous voulons passer d'une "
    "collectivité gestionnaire à une collectivité animatrice, activatrice de pouvoir citoyen.",
]
ACTIONS = [
    "Budget participatif (2019, 2021), conseil citoyen, ateliers du Plan Climat, défi familles "
    "à énergie positive.",
    "Deux réunions publiques par an, un conseil de quartier, une Carto Party avec le Cerdd.",
    "Projet alimentaire territorial co-construit avec les producteurs et une convention "
    "citoyenne locale en préparation.",
]
PISTES = [
    "Associer un panel d'habitant·es tiré au sort au suivi du Plan Climat.",
    "Former les élu·es à l'animation et expérimenter un budget participatif « transition ».",
    "Créer une maison du projet et des permanences itinérantes dans les villages.",
]
BESOINS = [
    "Méthodes pour embarquer les publics éloignés ; posture des élu·es ; évaluation.",
    "Outils numériques de participation ; gérer les situations de conflit.",
    "Argumentaire pour convaincre les collègues élu·es ; liens avec les associations.",
]


def _demo_letter(collectivite):
    html = (
        "<html lang='fr'><body style='font-family: DejaVu Sans'>"
        f"<h1>Lettre de motivation — {collectivite.nom}</h1>"
        "<p>Madame, Monsieur,</p><p>Nous avons l'honneur de présenter la candidature de notre "
        "collectivité au cycle de qualification « Vers des territoires participatifs ».</p>"
        "</body></html>"
    )
    return SimpleUploadedFile(
        f"lettre-motivation-{collectivite.siren}.pdf", pdf_from_html(html), "application/pdf"
    )


def _attach_letter(candidature, collectivite, user, *, at):
    # Written directly: the demo calls are closed, so the service would rightly refuse it.
    letter = _demo_letter(collectivite)
    piece = PieceJointe.objects.create(
        candidature=candidature,
        question=Question.objects.get(etape__appel=candidature.appel_id, code="lettre"),
        fichier=letter,
        nom_original=letter.name,
        type_mime="application/pdf",
        taille=letter.size,
        sha256=sha256_of(letter),
        uploaded_by=user,
    )
    # « déposée le » is set to now on creation: the demo's piece was sent before its dossier.
    PieceJointe.objects.filter(pk=piece.pk).update(uploaded_at=at)


def _answer(candidature, code, value):
    # Written directly, as the letter: the demo calls are closed.
    Reponse.objects.update_or_create(
        candidature=candidature,
        question=Question.objects.get(etape__appel=candidature.appel_id, code=code),
        defaults={"valeur": value},
    )


def _person(index):
    first, last = PEOPLE[index % len(PEOPLE)]
    return f"{first} {last}", f"{first[0].lower()}.{last.lower()}"


def _fill(candidature, index, collectivite):
    domain = f"{collectivite.siren}.mairie.test"
    pol_name, pol_login = _person(2 * index)
    tech_name, tech_login = _person(2 * index + 1)
    candidature.adresse = "Hôtel de ville, 1 place de la Mairie"
    candidature.code_postal = (collectivite.codes_postaux.split() or ["62000"])[0]
    candidature.ville = collectivite.nom if collectivite.insee else "Siège de l'EPCI"
    candidature.telephone = f"03 2{index % 10} 00 00 {index:02d}"
    candidature.email_contact = f"accueil@{domain}"
    candidature.ref_pol_nom = pol_name
    candidature.ref_pol_fonction = "Adjoint·e à la transition écologique et à la démocratie locale"
    candidature.ref_pol_email = f"{pol_login}@{domain}"
    candidature.ref_pol_telephone = f"06 1{index % 10} 00 00 {index:02d}"
    candidature.ref_tech_nom = tech_name
    candidature.ref_tech_fonction = "Chargé·e de mission développement durable"
    candidature.ref_tech_email = f"{tech_login}@{domain}"
    candidature.ref_tech_telephone = f"03 2{index % 10} 11 11 {index:02d}"
    _answer(candidature, "motivations", MOTIVATIONS[index % 3])
    _answer(candidature, "actions", ACTIONS[index % 3])
    _answer(candidature, "pistes", PISTES[index % 3])
    _answer(candidature, "besoins", BESOINS[index % 3])
    candidature.engagement_binome = True
    candidature.engagement_experimentation = True
    candidature.consentement_donnees = True
    candidature.save()


def _collectivite(code):
    if len(code) == 9:
        return Collectivite.objects.get(siren=code)
    return Collectivite.objects.get(insee=code)


# Demo data mails nobody: receipts of thirty fake dossiers would bury the newcomer's own
# sign-in link in /dev/outbox/.
@override_settings(MAILERS={"default": {"BACKEND": "django.core.mail.backends.dummy.EmailBackend"}})
def seed_candidatures(appel, *, staff_user, dossiers=DEMO_DOSSIERS):
    """Create the demo ``dossiers`` of ``appel`` that do not exist yet; returns how many.

    Submitted ones are submitted a month after the opening, one a day (or after their
    extension): the call must stay open that long.
    """
    created = 0
    submitted_at = appel.opens_at + timedelta(days=30)
    for index, (code, state) in enumerate(dossiers):
        collectivite = _collectivite(code)
        if Candidature.objects.filter(appel=appel, collectivite=collectivite).exists():
            continue
        created += 1
        candidature = Candidature.objects.create(appel=appel, collectivite=collectivite)
        if state != "brouillon":
            _fill(candidature, index, collectivite)
        user, _ = User.objects.get_or_create(
            email=candidature.ref_tech_email or f"mairie{index}@{collectivite.siren}.mairie.test"
        )
        AccesCandidature.objects.create(
            candidature=candidature, user=user, role=AccesCandidature.Role.CREATEUR
        )
        Evenement.objects.create(
            candidature=candidature,
            nature=Evenement.Nature.CREATION,
            at=appel.opens_at + timedelta(days=index),
            actor=user,
            statut_apres=Candidature.Statut.BROUILLON,
        )
        if state == "brouillon":
            candidature.ref_pol_nom = _person(2 * index)[0]
            candidature.save()
            _answer(candidature, "motivations", MOTIVATIONS[index % 3])
            continue
        moment = submitted_at + timedelta(days=index, hours=index % 7)
        _attach_letter(candidature, collectivite, user, at=moment - timedelta(hours=2))
        if state == "brouillon_complet":
            continue
        if state == "prolongee":
            services.grant_extension(
                candidature=candidature,
                until=appel.closes_at + timedelta(days=3),
                staff_user=staff_user,
                reason="Délibération du conseil communautaire le 15 mars",
            )
            moment = appel.closes_at + timedelta(days=2)
        submission.submit_candidature(candidature=candidature, user=user, now=moment)
        if state == "redeposee":
            submission.reopen_candidature(
                candidature=candidature, user=user, now=moment + timedelta(days=1)
            )
            _answer(
                candidature,
                "besoins",
                f"{BESOINS[index % 3]} Nous ajoutons : mobiliser les jeunes du territoire.",
            )
            submission.submit_candidature(
                candidature=candidature, user=user, now=moment + timedelta(days=2)
            )
    return created
