"""The letter templates: the placeholders a letter may use, the tags it may use, the seed
texts of each outcome (``ensure_modeles_courrier``) and the check of a text staff save
(``validate_letter_template``). ``letters`` renders them.
"""

# The seed letters below are kept one paragraph per line, as staff will see them in the admin.
# ruff: noqa: E501

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import ValidationError
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import Lexer, TokenType

from candidatures.appels.models import Appel

from .models import Issue, ModeleCourrier

logger = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]

CYCLE_MONTHS = Appel.DUREE_CYCLE_MOIS

PLACEHOLDERS: list[tuple[str, str]] = [
    (
        "collectivite",
        "nom de la collectivité : « Arras », « Communauté urbaine d'Arras » (sigle CC, CA, CU "
        "développé)",
    ),
    (
        "collectivite_de",
        "« de » suivi du nom, élidé ou contracté : « d'Arras », « du Portel », « de la "
        "Communauté urbaine d'Arras »",
    ),
    (
        "referent_politique",
        "référent·e politique : {{ referent_politique.nom }}, "
        "{{ referent_politique.fonction }}, {{ referent_politique.email }}",
    ),
    (
        "referent_technique",
        "référent·e technique : {{ referent_technique.nom }}, "
        "{{ referent_technique.fonction }}, {{ referent_technique.email }}",
    ),
    ("issue", "issue de la décision : « Retenue », « Liste d'attente » ou « Non retenue »"),
    ("motivation", "motivation de la décision"),
    ("retour_jury", "retour du jury cité dans le courrier (peut être vide)"),
    ("places", "nombre de places du cycle, par exemple 12"),
    ("nb_retenues", "nombre de collectivités retenues"),
    ("cycle_dates", "période du cycle : « de mai 2021 à mars 2022 »"),
    ("premiere_seance_date", "date de la première journée : « 18 mai 2021 »"),
    ("premiere_seance_lieu", "lieu de la première journée : « Loos-en-Gohelle »"),
    (
        "premiere_seance_passee",
        "vrai quand le courrier est daté après la première journée (un appel depuis la liste "
        "d'attente) : {% if premiere_seance_passee %}…{% else %}…{% endif %}",
    ),
    (
        "contact",
        "contact au Cerdd : {{ contact.nom }}, {{ contact.fonction }}, {{ contact.email }}",
    ),
    ("date_courrier", "date du courrier : « 15 avril 2021 »"),
    ("numero", "numéro du dossier : « AMI-2021-007 »"),
    ("rang_attente", "rang sur la liste d'attente (vide pour les autres issues)"),
    ("appel", "titre de l'appel"),
    ("signataire", "signataire : {{ signataire.nom }}, {{ signataire.fonction }}"),
]

# Tags a letter may use. Anything else (load, include, extends, url, debug…) reaches outside the
# letter's own data and is refused when the template is saved.
ALLOWED_TAGS = {
    "if",
    "elif",
    "else",
    "endif",
    "for",
    "empty",
    "endfor",
    "with",
    "endwith",
    "firstof",
    "comment",
    "endcomment",
    "filter",
    "endfilter",
    "spaceless",
    "endspaceless",
    "ifchanged",
    "endifchanged",
    "cycle",
    "templatetag",
    "verbatim",
    "endverbatim",
}

_SENTINEL = "\x00INCONNUE[%s]\x00"
_SENTINEL_RE = re.compile("\x00INCONNUE\\[(.*?)\\]\x00")


@dataclass(frozen=True)
class Personne:
    """A person in a letter's placeholders: ``{{ contact }}`` alone reads « nom, fonction »."""

    nom: str = ""
    fonction: str = ""
    email: str = ""

    def __str__(self):
        return ", ".join(part for part in (self.nom, self.fonction) if part)


# ---------------------------------------------------------------------------------------------
# Seed texts, in the call's tone. Staff edit them per call in the admin.

OBJET_DEFAUT = (
    "Votre candidature au cycle de qualification « Vers des territoires participatifs en "
    "Hauts-de-France »"
)

SEED_TEXTS: dict[str, tuple[str, str]] = {
    Issue.RETENUE: (
        OBJET_DEFAUT,
        """Madame, Monsieur,

Au nom du Cerdd et de la cellule d'orientation du programme Territoires participatifs, j'ai le plaisir de vous annoncer que la candidature {{ collectivite_de }} (dossier n° {{ numero }}) est retenue pour le cycle de qualification « Vers des territoires participatifs en Hauts-de-France ».
{% if motivation %}
{{ motivation }}
{% endif %}{% if retour_jury %}
Le jury a souhaité vous transmettre ce retour : {{ retour_jury }}
{% endif %}
Bienvenue dans ce cycle ! {% if nb_retenues > 1 %}{{ nb_retenues }} collectivités le suivront ensemble, {{ cycle_dates }},{% else %}Il se tiendra {{ cycle_dates }},{% endif %} au fil de sept journées de travail entre pairs, élu·es et technicien·nes. {% if premiere_seance_passee %}La première journée a eu lieu le {{ premiere_seance_date }} à {{ premiere_seance_lieu }} : nous vous adressons sans attendre le programme des prochaines séances, ainsi qu'un court questionnaire pour construire avec vous leur contenu à partir de vos besoins.{% else %}La première journée aura lieu le {{ premiere_seance_date }} à {{ premiere_seance_lieu }} : nous vous adresserons d'ici là le programme, ainsi qu'un court questionnaire pour construire avec vous le contenu des séances à partir de vos besoins.{% endif %}

Comme votre candidature s'y engage, nous comptons sur la présence d'un binôme élu·e / technicien·ne à chaque séance, et sur votre envie d'expérimenter sur votre territoire les outils et acquis du cycle.

Pour toute question, {{ contact.nom }} ({{ contact.fonction }}) reste à votre disposition : {{ contact.email }}.

Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations les meilleures.""",
    ),
    Issue.LISTE_ATTENTE: (
        OBJET_DEFAUT,
        """Madame, Monsieur,

Nous vous remercions chaleureusement pour la candidature {{ collectivite_de }} (dossier n° {{ numero }}) au cycle de qualification « Vers des territoires participatifs en Hauts-de-France ». Le jury a reçu des candidatures nombreuses et de grande qualité, pour {{ places }} places.

Votre candidature est inscrite sur la liste d'attente{% if rang_attente %}, au rang {{ rang_attente }}{% endif %}.
{% if motivation %}
{{ motivation }}
{% endif %}{% if retour_jury %}
Le jury a souhaité vous transmettre ce retour : {{ retour_jury }}
{% endif %}
Si une place se libère, nous vous la proposerons dans l'ordre de la liste d'attente : nous prendrons alors contact avec vous sans délai, pour confirmer la disponibilité de votre binôme élu·e / technicien·ne. {% if premiere_seance_passee %}Le cycle a commencé le {{ premiere_seance_date }} à {{ premiere_seance_lieu }} et se poursuit {{ cycle_dates }}.{% else %}La première journée du cycle est prévue le {{ premiere_seance_date }} à {{ premiere_seance_lieu }} ; le cycle se poursuivra {{ cycle_dates }}.{% endif %}

Pour toute question, {{ contact.nom }} ({{ contact.fonction }}) reste à votre disposition : {{ contact.email }}.

Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations les meilleures.""",
    ),
    Issue.NON_RETENUE: (
        OBJET_DEFAUT,
        """Madame, Monsieur,

Nous vous remercions sincèrement pour l'intérêt que vous portez au programme Territoires participatifs, et pour le temps consacré à la candidature {{ collectivite_de }} (dossier n° {{ numero }}).

Le jury a examiné avec attention chacune des candidatures reçues, pour {{ places }} places. Nous ne sommes malheureusement pas en mesure de retenir la vôtre pour ce cycle.
{% if motivation %}
{{ motivation }}
{% endif %}{% if retour_jury %}
Le jury a souhaité vous transmettre ce retour, que nous espérons utile pour la suite de votre démarche : {{ retour_jury }}
{% endif %}
Votre engagement pour la participation citoyenne compte, et le Cerdd reste à vos côtés : ressources, retours d'expériences et outils (Carto Party, mise en récit…) sur www.cerdd.org, rencontres et Labos ouverts à toutes les collectivités des Hauts-de-France. Le cycle fera l'objet d'une capitalisation largement partagée, et une prochaine édition de l'appel à manifestation d'intérêt sera proposée : nous serions heureux d'y recevoir à nouveau votre candidature.

Pour en parler, {{ contact.nom }} ({{ contact.fonction }}) reste à votre disposition : {{ contact.email }}.

Je vous prie d'agréer, Madame, Monsieur, l'expression de mes salutations les meilleures.""",
    ),
}


# The seed texts above speak of the first programme. Another programme's call starts from the
# same letters naming its own call and programme, without the participation-specific lines.
FIRST_PROGRAMME = "Territoires participatifs"
_OTHER_PROGRAMME = [
    ("« Vers des territoires participatifs en Hauts-de-France »", "« {{ appel }} »"),
    ("programme Territoires participatifs", "programme {programme}"),
    (
        "Votre engagement pour la participation citoyenne compte, et le Cerdd reste à vos côtés : "
        "ressources, retours d'expériences et outils (Carto Party, mise en récit…) sur "
        "www.cerdd.org,",
        "Votre engagement compte, et le Cerdd reste à vos côtés : ressources et retours "
        "d'expériences sur www.cerdd.org,",
    ),
]


def seed_text(issue: str, appel=None) -> tuple[str, str]:
    """(objet, corps) the letters of ``appel`` start from for ``issue``."""
    objet, corps = SEED_TEXTS[issue]
    if appel is None or appel.programme == FIRST_PROGRAMME:
        return objet, corps
    # Staff typed the programme's name: no template syntax may come in with it.
    programme = appel.programme.replace("{", "(").replace("}", ")").replace("%", " %")
    for old, new in _OTHER_PROGRAMME:
        new = new.replace("{programme}", programme)
        objet, corps = objet.replace(old, new), corps.replace(old, new)
    return objet, corps


def ensure_modeles_courrier(appel) -> None:
    """Give ``appel`` the three seed letters it lacks; existing texts are never overwritten."""
    for issue in SEED_TEXTS:
        objet, corps = seed_text(issue, appel)
        ModeleCourrier.objects.get_or_create(
            appel=appel, issue=issue, defaults={"objet": objet, "corps": corps}
        )


# ---------------------------------------------------------------------------------------------
# Template engines and validation


@cache
def _engine(*, checking: bool = False) -> Engine:
    """A bare engine: default tags and filters, no template loader (``include`` finds nothing).

    The checking engine prints a sentinel for unknown variables instead of Django's silent "".
    """
    return Engine(
        loaders=[("django.template.loaders.locmem.Loader", {})],
        string_if_invalid=_SENTINEL if checking else "",
    )


class _RecordingContext(Context):
    """Records the names looked up and not found, ``{% if inconnue %}`` included.

    A missing name yields the sentinel text instead of failing, so that rendering goes on and
    every unknown name of the text is reported at once. Django's look-up would otherwise fall
    back to the context's own attributes (``{{ template }}`` would print the Template object):
    such names are not placeholders either, and are reported too.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.missing: list[str] = []

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except KeyError:
            if key not in self.missing:
                self.missing.append(key)
            return _SENTINEL % key


class _SamplePerson:
    """A person of the sample context that records attributes asked of it and missing."""

    def __init__(self, placeholder: str, filled: bool, missing: list[str]):
        text = "Texte d'exemple" if filled else ""
        self.nom = self.fonction = text
        self.email = "exemple@exemple.test" if filled else ""
        self._placeholder = placeholder
        self._missing = missing

    def __getattr__(self, name):
        # Only called when normal look-up fails: {{ contact.telephone }}, {% if contact.tel %}.
        if not name.startswith("_"):
            self._missing.append(f"{self._placeholder}.{name}")
        raise AttributeError(name)

    def __str__(self):
        return ", ".join(part for part in (self.nom, self.fonction) if part)


def _sample_context(*, filled: bool, missing: list[str]) -> dict:
    """Every placeholder, all truthy or all falsy: both branches of the usual ``{% if %}``."""
    text = "Texte d'exemple" if filled else ""
    return {
        "collectivite": text,
        "collectivite_de": text,
        "referent_politique": _SamplePerson("referent_politique", filled, missing),
        "referent_technique": _SamplePerson("referent_technique", filled, missing),
        "issue": text,
        "motivation": text,
        "retour_jury": text,
        "places": 12 if filled else 0,
        "nb_retenues": 12 if filled else 0,
        "cycle_dates": text,
        "premiere_seance_date": text,
        "premiere_seance_lieu": text,
        "premiere_seance_passee": filled,
        "contact": _SamplePerson("contact", filled, missing),
        "date_courrier": text,
        "numero": text,
        "rang_attente": 2 if filled else "",
        "appel": text,
        "signataire": _SamplePerson("signataire", filled, missing),
    }


_SYNTAX_MESSAGES = [
    (
        re.compile(r"Unclosed tag on line (\d+): '(\w+)'\. Looking for one of: (.*)\."),
        lambda m: (
            f", ligne {m[1]} : la balise {{% {m[2]} %}} n'est pas fermée "
            f"(il manque {{% {m[3].split(', ')[-1]} %}})."
        ),
    ),
    (
        re.compile(r"Invalid block tag on line (\d+): '(\w+)', expected (.*)\. Did you"),
        lambda m: (
            f", ligne {m[1]} : {{% {m[2]} %}} est inattendue ici, "
            f"{_tag_list(re.findall(r"'(\w+)'", m[3]))} était attendue."
        ),
    ),
    (
        re.compile(r"Invalid block tag on line (\d+): '(\w+)'"),
        lambda m: f", ligne {m[1]} : la balise {{% {m[2]} %}} n'existe pas.",
    ),
    (
        re.compile(r"Invalid filter: '(\w+)'"),
        lambda m: f" : le filtre « {m[1]} » n'existe pas.",
    ),
    (
        re.compile(r"Empty variable tag on line (\d+)"),
        lambda m: f", ligne {m[1]} : variable vide {{{{ }}}}.",
    ),
    (
        re.compile(r"Could not parse the remainder: '.*' from '(.*)'"),
        lambda m: f" : expression illisible « {m[1]} ».",
    ),
    (
        re.compile(r"Unexpected end of expression in if tag"),
        lambda m: " : condition incomplète dans une balise {% if %}.",
    ),
]


def _tag_list(names: list[str]) -> str:
    tags = [f"{{% {name} %}}" for name in names]
    return tags[0] if len(tags) == 1 else ", ".join(tags[:-1]) + " ou " + tags[-1]


def _syntax_error_message(error: Exception) -> str:
    """Django's (English) syntax error, said in French when it is one of the usual ones."""
    raw = str(error)
    for pattern, french in _SYNTAX_MESSAGES:
        match = pattern.search(raw)
        if match:
            return "Modèle invalide" + french(match)
    return f"Modèle invalide : {raw}"


def _check_tags(source: str) -> None:
    for token in Lexer(source).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        name = (token.split_contents() or [""])[0]
        if name not in ALLOWED_TAGS:
            raise ValidationError(
                f"Modèle invalide, ligne {token.lineno} : la balise {{% {name} %}} n'est pas "
                "autorisée dans un courrier.",
                code="balise",
            )


def _first_use(source: str, name: str) -> int:
    match = re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", source)
    return match.start() if match else len(source)


def validate_letter_template(corps: str) -> None:
    """Refuse a letter text (or subject) that would not render, with the reason in French.

    Syntax errors come from Django's parser. Unknown variables, which Django would silently
    print as "", are found by rendering the text on two sample contexts (every placeholder
    filled, then every one empty, so that both sides of the usual ``{% if %}`` run) with a
    sentinel for unknown values and a context recording failed look-ups.
    """
    source = corps or ""
    _check_tags(source)
    try:
        template = _engine(checking=True).from_string(source)
    except TemplateSyntaxError as error:
        raise ValidationError(_syntax_error_message(error), code="syntaxe") from None
    unknown: list[str] = []
    for filled in (True, False):
        attributes: list[str] = []
        context = _RecordingContext(
            _sample_context(filled=filled, missing=attributes), autoescape=False
        )
        try:
            output = template.render(context)
        except Exception as error:  # e.g. a filter refusing its argument
            raise ValidationError(_syntax_error_message(error), code="rendu") from None
        for name in [*_SENTINEL_RE.findall(output), *attributes, *context.missing]:
            if name not in unknown and not any(
                known.startswith(f"{name}.") or name.startswith(f"{known}.") for known in unknown
            ):
                unknown.append(name)
    if unknown:
        # In order of appearance in the text, as the person fixing it reads it.
        unknown.sort(key=lambda name: _first_use(source, name))
        label = "Variable inconnue" if len(unknown) == 1 else "Variables inconnues"
        names = ", ".join(f"{{{{ {name} }}}}" for name in unknown)
        raise ValidationError(
            f"{label} : {names}. Les variables possibles sont listées sous le champ.",
            code="variable",
        )
