"""Loading the official list of collectivités from candidatures/data/collectivites_hdf.csv.

Shared by the ``import_collectivites`` command and the data migration that gives a fresh
install its list; both pass the model class to use.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

from .models import search_key

# The data set stays at the app level (candidatures/data), where its extraction script writes it.
DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "collectivites_hdf.csv"


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def __str__(self):
        return (
            f"{self.created} créée(s), {self.updated} mise(s) à jour, "
            f"{self.unchanged} inchangée(s), {self.deactivated} désactivée(s)"
        )


FIELDS = [
    "nature",
    "insee",
    "nom",
    "nom_recherche",
    "type_epci",
    "departement",
    "population",
    "codes_postaux",
    "interregional",
    "active",
]


def _row_values(row):
    return {
        "nature": row["kind"],
        "insee": row["insee"],
        "nom": row["nom"],
        "nom_recherche": search_key(row["nom"]),
        "type_epci": row["type_epci"],
        "departement": row["departement"],
        "population": int(row["population"]) if row["population"] else None,
        "codes_postaux": row["codes_postaux"],
        "interregional": row["interregional"] == "1",
        "active": True,
    }


def import_collectivites(model, path: Path = DATA_FILE) -> ImportResult:
    """Upsert every row keyed by SIREN; collectivités absent from the file become inactive."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result = ImportResult()
    existing = {item.siren: item for item in model.objects.all()}
    to_create, to_update = [], []
    for row in rows:
        values = _row_values(row)
        current = existing.get(row["siren"])
        if current is None:
            to_create.append(model(siren=row["siren"], **values))
        elif any(getattr(current, field) != value for field, value in values.items()):
            for field, value in values.items():
                setattr(current, field, value)
            to_update.append(current)
        else:
            result.unchanged += 1
    model.objects.bulk_create(to_create, batch_size=1000)
    model.objects.bulk_update(to_update, FIELDS, batch_size=1000)
    result.created, result.updated = len(to_create), len(to_update)

    # EPCI links need every row to exist first.
    by_siren = {item.siren: item for item in model.objects.all()}
    links = []
    for row in rows:
        commune = by_siren[row["siren"]]
        epci_id = by_siren[row["epci_siren"]].pk if row["epci_siren"] else None
        if commune.epci_id != epci_id:
            commune.epci_id = epci_id
            links.append(commune)
    model.objects.bulk_update(links, ["epci"], batch_size=1000)

    listed = {row["siren"] for row in rows}
    result.deactivated = (
        model.objects.filter(active=True).exclude(siren__in=listed).update(active=False)
    )
    return result
