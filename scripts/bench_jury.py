"""Benchmark of the staff jury dashboard: ranking page, progress page and exports at full size.

Builds, in a throw-away database ``bench_jury``, one call with 500 submitted dossiers, 9 jurors
and 4 critères, every juror scoring every dossier (about 4,500 évaluations and 18,000 notes,
a few drafts, declared conflicts and ties detected from a juror's collectivité), then times
the admin pages as the chargé·e de mission gets them: Django's test Client, in this process,
with DEBUG off (the whole middleware stack, the admin, the templates, no network).

Usage (from the repository root)::

    .venv/bin/python scripts/bench_jury.py             # 500 dossiers, 7 runs per page
    .venv/bin/python scripts/bench_jury.py --dossiers 300 --runs 11

What it does:

1. Creates ``bench_jury`` on the embedded PostgreSQL (or on DATABASE_URL's server when set,
   local only), migrates it (the official list of collectivités comes with the migrations).
   Demo data is never touched.
2. Inserts the call and its scores with ``bulk_create`` (no history rows: they would not be
   read by the pages measured), then runs ANALYZE, as autovacuum would on a live database.
3. For each page: one warm-up request, then ``--runs`` timed requests; prints the median and
   the minimum in milliseconds, the number of SQL queries and the size of the response. The
   ranking computation alone (``build_ranking``, no HTTP, no template) is timed too.
4. Drops the database, whatever happened.

It is a benchmark, not a test: it exits 1 when a page answers anything but 200 or when the
ranking page's median is over the target (300 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bench_jury"
LOCAL_DB_HOSTS = {"127.0.0.1", "localhost", "::1"}
RANKING_TARGET_MS = 300
JURORS = 9
CRITERES = [
    # (libellé, poids, note maximale): the four criteria of the 2021 call, weights varied so
    # that the weighted mean is really weighted.
    ("Collectivité engagée dans une dynamique de transition", 2, 4),
    ("Motivation des élu·es et des services", 1.5, 4),
    ("Capacité à mobiliser un binôme élu·e / technicien·ne", 1, 4),
    ("Pistes de travail et besoins identifiés", 1, 5),
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time the staff jury dashboard (ranking, progress, exports, PV) on a "
        "throw-away database with N dossiers × 9 jurors × 4 critères."
    )
    parser.add_argument("--dossiers", type=int, default=500, help="default: 500")
    parser.add_argument("--runs", type=int, default=7, help="timed requests per page (7)")
    parser.add_argument(
        "--pdf-runs", type=int, default=3, help="timed requests for the PDF (default: 3)"
    )
    args = parser.parse_args(argv)
    if not 10 <= args.dossiers <= 2000:
        parser.error("--dossiers must be between 10 and 2000")
    if not 1 <= args.runs <= 100 or not 1 <= args.pdf_runs <= 20:
        parser.error("--runs must be 1..100 and --pdf-runs 1..20")
    return args


# ---------------------------------------------------------------------------------------------
# The throw-away database


def _connect_kwargs(url: str, dbname: str) -> dict:
    import dj_database_url

    parsed = dj_database_url.parse(url)
    kwargs = {"dbname": dbname, "user": parsed["USER"], "host": parsed["HOST"]}
    if parsed.get("PASSWORD"):
        kwargs["password"] = parsed["PASSWORD"]
    if parsed.get("PORT"):
        kwargs["port"] = parsed["PORT"]
    return kwargs


def bench_database_url() -> tuple[str, object]:
    """The bench database's URL, and our handle on the embedded server (kept alive)."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        parts = urlsplit(configured)
        host = parts.hostname or ""
        if host and host not in LOCAL_DB_HOSTS and not host.startswith("%2f"):
            sys.exit(f"DATABASE_URL points to {host!r}: the benchmark only runs on a local server.")
        return urlunsplit(parts._replace(path="/" + BENCH_DB)), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs without XDG_RUNTIME_DIR
        sys.path.insert(0, str(ROOT))
        from cerdd_ami.embedded_db import join

        var_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var")
        # Same data directory as cerdd_ami.embedded_db: we join the server
        # `make run` or the tests may already use; it stops after its last user leaves.
        server = None  # listed as a user until this script exits
        socket_dir = join(var_dir / "postgres")
    socket = quote(str(socket_dir), safe="")
    return f"postgres://postgres@{socket}:5432/{BENCH_DB}", server


def admin_execute(url: str, statement: str) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(**_connect_kwargs(url, "postgres"))
    connection.autocommit = True  # CREATE / DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def configure_django(url: str) -> None:
    """Production-like settings (DEBUG off) on the bench database, in this process."""
    os.environ.update(
        {
            "DATABASE_URL": url,
            "DEBUG": "0",
            "SECRET_KEY": "bench-jury-only-" + "x" * 40,
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "STATIC_MANIFEST": "0",
            "EMAIL_HOST": "",
            "CONN_MAX_AGE": "60",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "cerdd_ami.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    # Static files are served through the finders here: no collectstatic output expected.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()


# ---------------------------------------------------------------------------------------------
# Data


def build_call(dossiers: int, seed: int = 2021):
    """One call in the state of a real deliberation; returns (appel, chargé·e de mission)."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from django.contrib.auth.models import Group

    from candidatures.models import (
        Appel,
        Candidature,
        Collectivite,
        ConflitInteret,
        Critere,
        Evaluation,
        MembreJury,
        Note,
        Recommandation,
        end_of_day,
    )
    from cerdd_ami import roles
    from cerdd_ami.models import User
    from cerdd_ami.permissions import sync_role_permissions

    rng = random.Random(seed)
    paris = ZoneInfo("Europe/Paris")
    sync_role_permissions()
    appel = Appel.objects.create(
        titre="Vers des territoires participatifs en Hauts-de-France (bench)",
        slug="bench",
        prefixe_numero="AMI-BENCH",
        dernier_numero=dossiers,  # numbered below without the submission service
        opens_at=datetime(2020, 12, 10, tzinfo=paris),
        closes_at=end_of_day(date(2021, 3, 12)),
        announcement_at=datetime(2021, 4, 15, 9, tzinfo=paris),
        seuil_desaccord=3,
    )
    criteres = [
        Critere.objects.create(appel=appel, ordre=i, libelle=libelle, poids=poids, note_max=top)
        for i, (libelle, poids, top) in enumerate(CRITERES, start=1)
    ]
    communes = list(
        Collectivite.objects.filter(nature=Collectivite.Nature.COMMUNE, active=True)
        .exclude(epci__isnull=True)
        .order_by("insee")[:dossiers]
    )
    if len(communes) < dossiers:
        raise RuntimeError(f"only {len(communes)} communes in the database")
    submitted_at = datetime(2021, 3, 1, 10, tzinfo=paris)
    candidatures = Candidature.objects.bulk_create(
        Candidature(
            appel=appel,
            collectivite=commune,
            statut=Candidature.Statut.DEPOSEE,
            numero=f"AMI-BENCH-{i:03d}",
            deposee_at=submitted_at,
            ville=commune.nom,
        )
        for i, commune in enumerate(communes, start=1)
    )
    jury_group = Group.objects.get(name=roles.JURY)
    jurors = []
    for i in range(1, JURORS + 1):
        user = User.objects.create_user(
            email=f"jure{i}@bench.test",
            first_name=f"Juré·e {i}",
            last_name="Bench",
            is_staff=True,
        )
        user.groups.add(jury_group)
        jurors.append(user)
    # Juror 1 sits for the EPCI of the first dossier: ties detected with its communes.
    MembreJury.objects.bulk_create(
        MembreJury(
            appel=appel,
            user=user,
            collectivite=communes[0].epci if i == 0 else None,
            qualite="Membre de la cellule d'orientation",
        )
        for i, user in enumerate(jurors)
    )
    tied = {c.pk for c in candidatures if c.collectivite.epci_id == communes[0].epci_id}
    declared = set(
        rng.sample([(c.pk, j.pk) for c in candidatures for j in jurors[1:]], dossiers // 25)
    )
    ConflitInteret.objects.bulk_create(
        ConflitInteret(
            candidature_id=dossier_id,
            jure_id=jure_id,
            origine=ConflitInteret.Origine.DECLARE,
            motif="Lien personnel avec la collectivité (bench).",
        )
        for dossier_id, jure_id in sorted(declared)
    )
    # Every juror has a severity of their own, every dossier a quality of its own.
    severity = {j.pk: rng.uniform(-0.8, 0.8) for j in jurors}
    evaluations, values = [], []
    for candidature in candidatures:
        quality = rng.uniform(0.3, 0.9)
        for juror in jurors:
            if juror.pk == jurors[0].pk and candidature.pk in tied:
                continue
            draft = rng.random() < 0.01
            evaluations.append(
                Evaluation(
                    candidature=candidature,
                    jure=juror,
                    statut=Evaluation.Statut.BROUILLON if draft else Evaluation.Statut.SOUMISE,
                    submitted_at=None if draft else submitted_at,
                    recommandation=rng.choice(Recommandation.values),
                    commentaire_prive="Dossier solide, ambitions à préciser.",
                )
            )
            values.append(
                [
                    max(0, min(c.note_max, round(c.note_max * quality + severity[juror.pk] + 0.5)))
                    for c in criteres
                ]
            )
    evaluations = Evaluation.objects.bulk_create(evaluations, batch_size=2000)
    Note.objects.bulk_create(
        (
            Note(evaluation=evaluation, critere=critere, valeur=value, commentaire="")
            for evaluation, scores in zip(evaluations, values, strict=True)
            for critere, value in zip(criteres, scores, strict=True)
        ),
        batch_size=5000,
    )
    from django.db import connection

    with connection.cursor() as cursor:
        # A live database has planner statistics (autovacuum); freshly bulk-loaded tables not.
        cursor.execute("ANALYZE")
    staff = User.objects.create_user(
        email="charge@bench.test", first_name="Alexis", last_name="Montaigne", is_staff=True
    )
    staff.groups.add(Group.objects.get(name=roles.CHARGE_DE_MISSION))
    counts = {
        "dossiers": len(candidatures),
        "jurors": len(jurors),
        "criteres": len(criteres),
        "evaluations": len(evaluations),
        "notes": len(evaluations) * len(criteres),
        "declared conflicts": len(declared),
        "detected ties": len(tied),
    }
    return appel, staff, counts


# ---------------------------------------------------------------------------------------------
# Measures


class QueryCounter:
    """Counts the SQL statements run through the connection (DEBUG off: no queries_log)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def time_page(client, path: str, runs: int) -> dict:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        response = client.get(path)  # warm-up, and the query count
        if not response.streaming:
            response.content  # noqa: B018
    if response.status_code != 200:
        return {"status": response.status_code}
    size = len(response.content)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path)
        if not response.streaming:
            response.content  # noqa: B018 — a lazy response renders when read
        seconds.append(time.perf_counter() - start)
    return {
        "status": response.status_code,
        "median": statistics.median(seconds) * 1000,
        "min": min(seconds) * 1000,
        "queries": counter.count,
        "size": size,
    }


def time_function(function, runs: int) -> dict:
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        function()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return {
        "median": statistics.median(seconds) * 1000,
        "min": min(seconds) * 1000,
        "queries": counter.count,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    url, _server = bench_database_url()
    print(f"Setting up: database {BENCH_DB}, migrations, {args.dossiers} dossiers…", flush=True)
    admin_execute(url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin_execute(url, f"CREATE DATABASE {BENCH_DB}")
    pg_version = admin_execute(url, "SHOW server_version")[0][0]
    failed = True
    try:
        configure_django(url)
        from django.core.management import call_command
        from django.db import connections
        from django.test import Client

        from candidatures.jury.progress import progress_matrix
        from candidatures.jury.ranking import build_ranking

        call_command("migrate", verbosity=0, interactive=False)
        started = time.perf_counter()
        appel, staff, counts = build_call(args.dossiers)
        built = time.perf_counter() - started
        client = Client()
        client.force_login(staff)
        base = f"/admin/candidatures/appel/{appel.pk}/"
        pages = [
            ("ranking page (classement/)", "classement/", args.runs),
            ("ranking page sorted by z (?tri=z)", "classement/?tri=z", args.runs),
            ("progress page (jury/)", "jury/", args.runs),
            ("ranking export XLSX", "classement.xlsx", args.runs),
            ("ranking export CSV", "classement.csv", args.runs),
            ("all scores export XLSX", "notes.xlsx", args.runs),
            ("all scores export CSV", "notes.csv", args.runs),
            ("procès-verbal PDF", "proces-verbal.pdf", args.pdf_runs),
        ]
        print(
            f"\nCerdd AMI — jury dashboard benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n"
            f"  machine: {os.cpu_count()} CPUs, {platform.platform()}, Python "
            f"{platform.python_version()}, PostgreSQL {pg_version}\n"
            f"  data: " + ", ".join(f"{v} {k}" for k, v in counts.items()) + f" (built in "
            f"{built:.1f} s)\n  Django test Client in process, DEBUG=0; median and min of "
            f"{args.runs} runs after one warm-up ({args.pdf_runs} for the PDF)\n"
        )
        print(f"  {'page':<36} {'median ms':>10} {'min ms':>8} {'queries':>8} {'size':>10}")
        results = {}
        for label, page, runs in pages:
            result = time_page(client, base + page, runs)
            results[page] = result
            if result["status"] != 200:
                print(f"  {label:<36} HTTP {result['status']}")
                continue
            print(
                f"  {label:<36} {result['median']:>10.0f} {result['min']:>8.0f} "
                f"{result['queries']:>8} {result['size'] / 1024:>8.0f} KB"
            )
        for label, function in (
            ("build_ranking() alone", lambda: build_ranking(appel)),
            ("progress_matrix() alone", lambda: progress_matrix(appel)),
        ):
            result = time_function(function, args.runs)
            print(
                f"  {label:<36} {result['median']:>10.0f} {result['min']:>8.0f} "
                f"{result['queries']:>8}"
            )
        ranking = results["classement/"]
        met = ranking.get("status") == 200 and ranking["median"] <= RANKING_TARGET_MS
        print(
            f"\n  ranking page median {ranking.get('median', float('nan')):.0f} ms "
            f"(target ≤ {RANKING_TARGET_MS} ms: {'met' if met else 'NOT met'})"
        )
        failed = not met or any(r["status"] != 200 for r in results.values())
        connections.close_all()
        return 1 if failed else 0
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception as exc:  # Django may not even be configured
            print(f"(closing connections: {exc})", file=sys.stderr)
        admin_execute(url, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
