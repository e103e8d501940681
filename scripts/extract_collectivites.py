"""Extract the collectivités of the Hauts-de-France region into a compact CSV.

Source: the npm package ``@etalab/decoupage-administratif`` (INSEE COG + DGCL EPCI
composition, Licence Ouverte 2.0). The package is a build of official data, so we never edit
the CSV by hand: regenerate it from a pinned package version instead.

Regenerate (from the repository root)::

    mkdir -p /tmp/etalab && cd /tmp/etalab
    npm install @etalab/decoupage-administratif@6.0.0
    cd -
    python scripts/extract_collectivites.py \\
        --package-dir /tmp/etalab/node_modules/@etalab/decoupage-administratif

Outputs ``candidatures/data/collectivites_hdf.csv`` (EPCI first by SIREN, then communes by
INSEE code) and ``candidatures/data/README.md`` (which records the package version read from
its ``package.json``). The CSV is byte-for-byte deterministic for a given package version; the
README contains the extraction date, which ``--date`` pins for reproducible runs.

Only the Python standard library is used so the script runs without the project venv.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

REGION_CODE = "32"
REGION_NAME = "Hauts-de-France"
DEPARTEMENTS = ("02", "59", "60", "62", "80")
EPCI_TYPES = ("CC", "CA", "CU", "METRO")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT_DIR = REPO_ROOT / "candidatures" / "data"
CSV_NAME = "collectivites_hdf.csv"
README_NAME = "README.md"

HEADER = (
    "kind",
    "siren",
    "insee",
    "nom",
    "type_epci",
    "departement",
    "population",
    "codes_postaux",
    "epci_siren",
    "interregional",
)

# Counts checked by hand against the 6.0.0 data (COG / DGCL 2026). A new package version may
# legitimately change them, so they are only enforced for versions listed here.
EXPECTED_COUNTS = {"6.0.0": {"commune": 3782, "epci": 92}}


def load_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)


def select_communes(communes: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Index every current commune of France by INSEE code.

    Communes déléguées/associées and municipal arrondissements are not collectivités: they carry no
    SIREN and are never EPCI members, so only ``commune-actuelle`` is kept.
    """
    return {c["code"]: c for c in communes if c.get("type") == "commune-actuelle"}


def majority_departement(members: list[dict[str, Any]]) -> str:
    """Département holding most member communes.

    The package drops the DGCL seat column, so the seat is unknown. Ties are broken by the
    larger member population (so CC Flandre Lys, 4 communes in 59 and 4 in 62, lands in 59,
    where its seat La Gorgue actually is), then by the smaller code for determinism.
    """
    count: Counter[str] = Counter()
    pop: Counter[str] = Counter()
    for m in members:
        count[m["departement"]] += 1
        pop[m["departement"]] += m.get("population") or 0
    return min(count, key=lambda d: (-count[d], -pop[d], d))


def build_rows(
    communes_json: list[dict[str, Any]], epci_json: list[dict[str, Any]]
) -> tuple[list[dict[str, str]], list[str]]:
    communes = select_communes(communes_json)
    notes: list[str] = []

    epci_of: dict[str, str] = {}
    epci_rows: list[dict[str, str]] = []
    for epci in epci_json:
        members = []
        for m in epci["membres"]:
            commune = communes.get(m["code"])
            if commune is None:
                # A member that is not a current commune means the COG and the DGCL file are
                # out of sync; silently dropping it would skew populations and regions.
                raise SystemExit(f"EPCI {epci['code']}: member {m['code']} is not a commune")
            members.append(commune)
        regions = {c["region"] for c in members}
        # EPCI records have no region/département field at all in 6.0.0, so membership is
        # decided from the member communes: any member in the region is enough.
        if REGION_CODE not in regions:
            continue
        if epci["type"] not in EPCI_TYPES:
            raise SystemExit(f"EPCI {epci['code']}: unexpected type {epci['type']!r}")
        for c in members:
            if c["code"] in epci_of:
                raise SystemExit(f"commune {c['code']} belongs to two EPCI")
            epci_of[c["code"]] = epci["code"]

        population = epci.get("populationMunicipale")
        if not isinstance(population, int):
            # Fallback keeps the column filled; it mixes in INSEE figures, hence the note.
            known = [c["population"] for c in members if isinstance(c.get("population"), int)]
            population = sum(known) if known else None
            notes.append(f"EPCI {epci['code']}: population summed from member communes")

        interregional = len(regions) > 1
        if interregional:
            outside = sorted({c["departement"] for c in members if c["region"] != REGION_CODE})
            notes.append(
                f"interregional EPCI {epci['code']} {epci['nom']!r}: "
                f"{sum(c['region'] == REGION_CODE for c in members)} members in région "
                f"{REGION_CODE}, {sum(c['region'] != REGION_CODE for c in members)} in "
                f"département(s) {', '.join(outside)}"
            )
        departements = {c["departement"] for c in members}
        if len(departements) > 1:
            notes.append(
                f"EPCI {epci['code']} {epci['nom']!r} spans {sorted(departements)}: "
                f"departement={majority_departement(members)}"
            )

        epci_rows.append(
            {
                "kind": "epci",
                "siren": epci["code"],
                "insee": "",
                "nom": epci["nom"].strip(),
                "type_epci": epci["type"],
                "departement": majority_departement(members),
                "population": "" if population is None else str(population),
                "codes_postaux": "",
                "epci_siren": "",
                "interregional": "1" if interregional else "0",
            }
        )

    commune_rows: list[dict[str, str]] = []
    for code, c in communes.items():
        if c["region"] != REGION_CODE:
            continue
        if c["departement"] not in DEPARTEMENTS:
            raise SystemExit(f"commune {code}: unexpected département {c['departement']}")
        population = c.get("population")
        epci_siren = epci_of.get(code, "")
        if not epci_siren:
            notes.append(f"commune {code} {c['nom']!r} belongs to no EPCI")
        if not c.get("siren"):
            notes.append(f"commune {code} {c['nom']!r} has no SIREN")
        commune_rows.append(
            {
                "kind": "commune",
                "siren": c.get("siren", ""),
                "insee": code,
                "nom": c["nom"],
                "type_epci": "",
                "departement": c["departement"],
                "population": str(population) if isinstance(population, int) else "",
                "codes_postaux": " ".join(sorted(c.get("codesPostaux") or [])),
                "epci_siren": epci_siren,
                # A commune lies in exactly one région; the flag is only meaningful for EPCI.
                "interregional": "0",
            }
        )

    epci_rows.sort(key=lambda r: r["siren"])
    commune_rows.sort(key=lambda r: r["insee"])
    return epci_rows + commune_rows, notes


def write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # newline="" lets the csv module own line endings, forced to "\n" for stable diffs.
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


README_TEMPLATE = """\
# Collectivités des Hauts-de-France

`{csv_name}` liste les collectivités de la région {region_name} (code région `{region}`,
départements {deps}) : les communes actuelles et les EPCI à fiscalité propre (CC, CA, CU,
Métropole) ayant au moins une commune membre dans la région.

Fichier généré par `scripts/extract_collectivites.py` : ne pas l'éditer à la main.

## Source

- Paquet npm [`{package}`](https://www.npmjs.com/package/{package}) version **{version}**
  (millésime 2026), dépôt <https://github.com/datagouv/decoupage-administratif>.
- Producteurs : INSEE (Code officiel géographique, populations légales), DGCL (liste et
  composition des EPCI à fiscalité propre, fichier `epcicom` issu de BANATIC), La Poste
  (base officielle des codes postaux).
- Licence des données : Licence Ouverte / Open Licence 2.0 (Etalab) ; le code du paquet est
  sous licence MIT.
- Extraction du {date}.

## Contenu

- {n_commune} communes (`kind=commune`) ;
- {n_epci} EPCI (`kind=epci`) : {epci_types} ;
- dont {n_inter} EPCI interrégionaux (`interregional=1`) : {inter_list} ;
- communes déléguées, associées et arrondissements municipaux exclus (pas de SIREN).

## Colonnes

{columns}

## Régénérer

```sh
mkdir -p /tmp/etalab && cd /tmp/etalab
npm install {package}@{version}
cd -   # racine du dépôt
python scripts/extract_collectivites.py \\
    --package-dir /tmp/etalab/node_modules/{package}
```
"""

# One (column, meaning) pair per CSV column; rendered as the README table so the two never drift.
COLUMN_DOCS = (
    (
        "kind",
        "`epci` ou `commune` ; les EPCI d'abord (triés par SIREN), puis les communes "
        "(triées par code INSEE).",
    ),
    ("siren", "SIREN (9 chiffres) de l'EPCI ou de la commune."),
    ("insee", "Code commune INSEE (5 caractères) ; vide pour un EPCI."),
    ("nom", "Nom officiel (COG pour les communes, raison sociale DGCL pour les EPCI)."),
    ("type_epci", "`CC`, `CA`, `CU` ou `METRO` (métropole) pour un EPCI ; vide pour une commune."),
    (
        "departement",
        "Code département (2 caractères). EPCI : le paquet ne donne pas la commune siège, "
        "c'est donc le département de la majorité des communes membres (à égalité : celui "
        "dont les membres sont les plus peuplés) ; il peut être hors région (`76`).",
    ),
    (
        "population",
        "Commune : population municipale INSEE. EPCI : population municipale DGCL de tout "
        "le périmètre (membres hors région compris). Sources distinctes : la somme des "
        "communes d'un EPCI ne coïncide pas exactement avec ce total. Vide si inconnue.",
    ),
    ("codes_postaux", "Codes postaux de la commune, séparés par des espaces ; vide pour un EPCI."),
    (
        "epci_siren",
        "SIREN de l'EPCI dont la commune est membre ; vide pour un EPCI ou une commune isolée.",
    ),
    (
        "interregional",
        f"`1` si l'EPCI a des communes membres hors région {REGION_CODE}, sinon `0` "
        "(toujours `0` pour une commune).",
    ),
)
if tuple(name for name, _ in COLUMN_DOCS) != HEADER:
    raise RuntimeError("COLUMN_DOCS and HEADER disagree")


def write_readme(
    path: Path, *, package: str, version: str, date: str, rows: list[dict[str, str]]
) -> None:
    epci = [r for r in rows if r["kind"] == "epci"]
    inter = [r for r in epci if r["interregional"] == "1"]
    types = Counter(r["type_epci"] for r in epci)
    text = README_TEMPLATE.format(
        csv_name=CSV_NAME,
        region_name=REGION_NAME,
        region=REGION_CODE,
        deps=", ".join(DEPARTEMENTS),
        package=package,
        version=version,
        date=date,
        n_commune=sum(r["kind"] == "commune" for r in rows),
        n_epci=len(epci),
        epci_types=", ".join(f"{types[t]} {t}" for t in EPCI_TYPES),
        n_inter=len(inter),
        inter_list=" ; ".join(f"{r['nom']} (SIREN {r['siren']})" for r in inter) or "aucun",
        columns="\n".join(
            ["| Colonne | Sens |", "|---|---|"]
            + [f"| `{name}` | {meaning} |" for name, meaning in COLUMN_DOCS]
        ),
    )
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--package-dir",
        type=Path,
        default=Path("node_modules/@etalab/decoupage-administratif"),
        help="installed @etalab/decoupage-administratif folder (holds package.json and data/)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=DEFAULT_OUT_DIR,
        help=f"output folder (default: {DEFAULT_OUT_DIR.relative_to(REPO_ROOT)})",
    )
    parser.add_argument(
        "--date",
        default=dt.date.today().isoformat(),
        help="extraction date written in the README (default: today)",
    )
    args = parser.parse_args(argv)

    pkg_dir: Path = args.package_dir
    meta = load_json(pkg_dir / "package.json")
    package, version = meta["name"], meta["version"]
    if package != "@etalab/decoupage-administratif":
        raise SystemExit(f"{pkg_dir} holds {package!r}, not @etalab/decoupage-administratif")

    rows, notes = build_rows(
        load_json(pkg_dir / "data" / "communes.json"),
        load_json(pkg_dir / "data" / "epci.json"),
    )
    counts = Counter(r["kind"] for r in rows)
    types = Counter(r["type_epci"] for r in rows if r["kind"] == "epci")

    out_dir: Path = args.out_dir
    csv_path = out_dir / CSV_NAME
    write_csv(csv_path, rows)
    write_readme(out_dir / README_NAME, package=package, version=version, date=args.date, rows=rows)

    print(f"{package}@{version}")
    print(f"communes: {counts['commune']}")
    print(f"epci: {counts['epci']} ({', '.join(f'{t}={types[t]}' for t in EPCI_TYPES)})")
    for note in notes:
        print(f"note: {note}")
    print(f"wrote {csv_path} ({csv_path.stat().st_size} bytes)")

    expected = EXPECTED_COUNTS.get(version)
    if expected and dict(counts) != expected:
        print(f"error: expected {expected}, got {dict(counts)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
