"""Helpers shared by the test_participants* modules."""

import re
import zoneinfo

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


BINOME_POST = {
    "elu_nom": "Claire Dupont",
    "elu_fonction": "Adjointe à la démocratie participative",
    "elu_email": "Claire.Dupont@mairie.exemple.test",
    "elu_telephone": "06 12 34 56 78",
    "technicien_nom": "Karim Benali",
    "technicien_fonction": "Chargé de mission transition",
    "technicien_email": "karim.benali@mairie.exemple.test",
    "technicien_telephone": "03 21 50 50 51",
    "suppleant_elu_nom": "Lucie Lefebvre",
    "suppleant_elu_fonction": "Conseillère municipale",
    "suppleant_elu_email": "lucie.lefebvre@mairie.exemple.test",
    "suppleant_elu_telephone": "",
    "suppleant_technicien_nom": "",
    "suppleant_technicien_fonction": "",
    "suppleant_technicien_email": "",
    "suppleant_technicien_telephone": "",
}


def members_of(participant):
    return sorted(
        participant.membres.values_list(
            "role", "titulaire", "nom", "fonction", "email", "telephone", "user__email"
        )
    )


def qui_vient_of(text) -> list[tuple[str, str]]:
    qui_vient = text[text.index("Qui vient la prochaine fois") :]
    return re.findall(r"<li><strong>(.*?)</strong> : (.*?)</li>", qui_vient)
