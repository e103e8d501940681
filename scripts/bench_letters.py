"""Benchmark of the decision letters: one letter, N letters as one merged PDF, N as a ZIP.

Usage (from the repository root)::

    .venv/bin/python scripts/bench_letters.py                 # 200 letters
    .venv/bin/python scripts/bench_letters.py --letters 50

What it does:

1. Creates a throw-away database ``bench_letters`` (on the embedded PostgreSQL, or on
   DATABASE_URL's server when it is local), migrates it, loads the 2021 call
   (``candidatures.appels.seed.ensure_appel_2021``) with its three letter texts, and N submitted
   dossiers of real communes with a decision each (12 retenues, 8 on the waiting list, the rest
   non retenues; motivations and jury feedback of realistic length). Demo data is never touched.
2. Runs each measurement in its own Python process, so that each peak RSS
   (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is that measurement's alone. Each process
   first renders one letter untimed (imports, fonts, templates: what a running server has
   already done), then measures:

   - ``one``: ``render_letter_pdf`` for single letters spread over the batch (every
     outcome), median of ``--single-runs`` runs;
   - ``merged``: ``render_letters_merged_pdf`` for the N letters (one WeasyPrint call);
   - ``zip``: ``letters_zip`` for the N letters (one WeasyPrint call per letter).

3. Prints wall and CPU times and checks the targets: merged ≤ 40 % of N × one letter, in CPU
   time (rendering is single-threaded: CPU time is the wall time of an idle machine, and it
   does not move when other jobs share the cores), and every peak RSS under 400 MB. Exits 1
   when a target is missed or a measurement fails.

The database is dropped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
BENCH_DB = "bench_letters"
LOCAL_DB_HOSTS = {"127.0.0.1", "localhost", "::1"}
MERGED_TARGET = 0.40  # merged PDF time / (N × one-letter time)
RSS_TARGET_MB = 400

SETUP_CODE = """
import json, os, zoneinfo
from datetime import datetime, timedelta
from candidatures.decisions.letters import ensure_modeles_courrier
from candidatures.models import Appel, Candidature, Collectivite, Decision, Issue
from candidatures.appels.seed import ensure_appel_2021

count = int(os.environ["BENCH_LETTERS"])
paris = zoneinfo.ZoneInfo("Europe/Paris")
appel = ensure_appel_2021()
ensure_modeles_courrier(appel)
communes = list(
    Collectivite.objects.active()
    .filter(nature=Collectivite.Nature.COMMUNE)
    .order_by("-population", "insee")[:count]
)
motivation = (
    "Le jury a apprécié la sincérité de votre démarche et la qualité de votre lettre. "
    "La place accordée à la participation citoyenne dans le projet politique, et la "
    "disponibilité du binôme élu·e / technicien·ne sur les sept séances, restent à préciser."
)
retour = (
    "La lettre de motivation est claire ; le jury salue la démarche engagée avec les conseils "
    "de quartier et vous encourage à associer plus largement les habitant·es."
)
candidatures = Candidature.objects.bulk_create(
    [
        Candidature(
            appel=appel,
            collectivite=commune,
            statut=Candidature.Statut.DEPOSEE,
            numero=f"AMI-2021-{number:03d}",
            deposee_at=datetime(2021, 3, 1, 9, tzinfo=paris) + timedelta(minutes=number),
            adresse="Hôtel de ville, place de la Mairie",
            code_postal=(commune.codes_postaux or "62000").split()[0][:5],
            ville=commune.nom,
            ref_pol_nom="Claire Dupont",
            ref_pol_fonction="Adjointe déléguée à la démocratie participative",
            ref_pol_email=f"elue{number}@exemple.test",
            ref_tech_nom="Julien Martin",
            ref_tech_fonction="Chargé de mission développement durable",
            ref_tech_email=f"technicien{number}@exemple.test",
        )
        for number, commune in enumerate(communes, start=1)
    ]
)
# Numbered without the submission service: the counter must know these numbers.
Appel.objects.filter(pk=appel.pk).update(dernier_numero=len(candidatures))
decisions = []
for number, candidature in enumerate(candidatures, start=1):
    if number <= 12:
        issue, rang = Issue.RETENUE, None
    elif number <= 20:
        issue, rang = Issue.LISTE_ATTENTE, number - 12
    else:
        issue, rang = Issue.NON_RETENUE, None
    decisions.append(
        Decision(
            candidature=candidature,
            issue=issue,
            motivation=motivation,
            retour_jury=retour if number % 2 else "",
            rang_attente=rang,
        )
    )
Decision.objects.bulk_create(decisions)
counts = {issue: sum(1 for d in decisions if d.issue == issue) for issue in Issue.values}
with open(os.environ["BENCH_OUTPUT"], "w") as output:
    json.dump({"letters": len(decisions), "counts": counts}, output)
"""


# ---------------------------------------------------------------------------------------------
# Child process: one measurement


def measure(mode: str, single_runs: int) -> dict:
    """Runs inside a fresh process (``--measure``): warm-up, then one timed measurement."""
    import resource

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerdd_ami.settings")
    import django

    django.setup()
    import io

    import pypdf

    from candidatures.decisions import letters
    from candidatures.models import Decision

    decisions = list(
        Decision.objects.filter(candidature__appel__slug="2021")
        .select_related("candidature__appel", "candidature__collectivite")
        .order_by("candidature__numero")
    )
    letters.render_letter_pdf(decisions[-1])  # warm-up, not timed
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result: dict = {"mode": mode, "letters": len(decisions)}

    def timed(function):
        """(wall seconds, CPU seconds of this process, result)."""
        wall, cpu = time.perf_counter(), time.process_time()
        value = function()
        return time.perf_counter() - wall, time.process_time() - cpu, value

    if mode == "one":
        # Letters spread over the batch: every outcome, not only the first (longer) ones.
        step = max(1, len(decisions) // single_runs)
        runs = [
            timed(lambda decision=decision: letters.render_letter_pdf(decision))
            for decision in decisions[::step][:single_runs]
        ]
        result["seconds"] = statistics.median(run[0] for run in runs)
        result["cpu_seconds"] = statistics.median(run[1] for run in runs)
        result["runs"] = [round(run[0], 3) for run in runs]
        result["bytes"] = len(runs[0][2])
    elif mode == "merged":
        wall, cpu, pdf = timed(lambda: letters.render_letters_merged_pdf(decisions))
        result.update(seconds=wall, cpu_seconds=cpu, bytes=len(pdf))
    else:
        wall, cpu, archive = timed(lambda: letters.letters_zip(decisions))
        result.update(seconds=wall, cpu_seconds=cpu, bytes=len(archive))
    result["baseline_rss_mb"] = baseline_kb / 1024
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mode == "merged":  # checked after the peak was read: pypdf's memory is not ours
        result["pages"] = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    return result


# ---------------------------------------------------------------------------------------------
# Parent process: database, children, report


def locate_database() -> tuple[str, dict, object]:
    """(DATABASE_URL of the bench database, psycopg2 maintenance kwargs, server handle)."""
    import dj_database_url

    configured = os.environ.get("DATABASE_URL")
    server = None
    if configured:
        parts = urlsplit(configured)
        host = parts.hostname or ""
        # Local TCP or a Unix socket only: this benchmark never loads a remote server.
        if host and host not in LOCAL_DB_HOSTS and not host.startswith("%2f"):
            sys.exit(f"DATABASE_URL points to {host!r}: the benchmark only runs on a local server.")
        url = urlunsplit(parts._replace(path="/" + BENCH_DB))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs without XDG_RUNTIME_DIR
            sys.path.insert(0, str(ROOT))
            from cerdd_ami.embedded_db import join

            var_dir = Path(os.environ.get("VAR_DIR") or ROOT / "var")
            # The server `make run` and the tests use; it stops after its last user leaves.
            server = None  # listed as a user until this script exits
            socket_dir = join(var_dir / "postgres")
        socket_dir = quote(str(socket_dir), safe="")
        url = f"postgres://postgres@{socket_dir}:5432/{BENCH_DB}"
    parsed = dj_database_url.parse(url)
    admin = {"dbname": "postgres", "user": parsed["USER"], "host": parsed["HOST"]}
    if parsed.get("PASSWORD"):
        admin["password"] = parsed["PASSWORD"]
    if parsed.get("PORT"):
        admin["port"] = parsed["PORT"]
    return url, admin, server


def admin_execute(admin: dict, statement: str) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(**admin)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


def django_env(url: str, work: Path) -> dict:
    env = dict(os.environ)
    env.pop("EMAIL_HOST", None)
    env.update(
        {
            # Production settings (DEBUG off: templates are not in debug mode), bench database.
            "DEBUG": "0",
            "SECRET_KEY": "bench-letters-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
            "DATABASE_URL": url,
            "MEDIA_ROOT": str(work / "media"),
            "STATIC_MANIFEST": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run(command: list[str], env: dict, timeout: float = 1800) -> str:
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise RuntimeError(f"{' '.join(command[:3])} failed (exit {result.returncode})")
    return result.stdout


def prepare(env: dict, work: Path, count: int) -> dict:
    run([str(PYTHON), "manage.py", "migrate", "--noinput", "-v", "0"], env)
    output = work / "setup.json"
    run(
        [str(PYTHON), "manage.py", "shell", "-v", "0", "-c", SETUP_CODE],
        {**env, "BENCH_LETTERS": str(count), "BENCH_OUTPUT": str(output)},
    )
    return json.loads(output.read_text())


def run_measure(env: dict, mode: str, single_runs: int) -> dict:
    stdout = run([str(PYTHON), __file__, "--measure", mode, "--single-runs", str(single_runs)], env)
    return json.loads(stdout.strip().splitlines()[-1])


def machine() -> str:
    ram = "?"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpus} CPUs, {ram} RAM, {platform.platform()}, Python {platform.python_version()}"


def load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "?"


def report(setup: dict, one: dict, merged: dict, archive: dict) -> bool:
    count = setup["letters"]
    counts = setup["counts"]
    print(
        f"\nCerdd AMI — decision letters benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n"
        f"  machine: {machine()}\n"
        f"  letters: {count} ({counts['retenue']} retenues, {counts['liste_attente']} liste "
        f"d'attente, {counts['non_retenue']} non retenues), one process per measurement\n"
    )
    print(
        f"  {'measurement':<34} {'wall s':>8} {'CPU s':>8} {'CPU s/letter':>12} {'size':>9} "
        f"{'peak RSS':>9}"
    )
    rows = [
        (f"one letter (median of {len(one['runs'])})", one, 1),
        (f"{count} letters, merged PDF ({merged['pages']} p.)", merged, count),
        (f"{count} letters, ZIP of PDFs", archive, count),
    ]
    for label, result, letters in rows:
        print(
            f"  {label:<34} {result['seconds']:>8.2f} {result['cpu_seconds']:>8.2f} "
            f"{result['cpu_seconds'] / letters:>12.3f} {result['bytes'] / 1024:>7.0f}KB "
            f"{result['peak_rss_mb']:>7.0f}MB"
        )
    # The ratio is taken on CPU time: rendering is single-threaded, so CPU time is the wall
    # time of an idle machine, and it does not move when other jobs share the CPUs.
    ratio = merged["cpu_seconds"] / (count * one["cpu_seconds"])
    wall_ratio = merged["seconds"] / (count * one["seconds"])
    zip_ratio = archive["cpu_seconds"] / (count * one["cpu_seconds"])
    peak = max(result["peak_rss_mb"] for result in (one, merged, archive))
    ratio_ok = ratio <= MERGED_TARGET
    rss_ok = peak < RSS_TARGET_MB
    pages_ok = merged["pages"] >= count
    print(
        f"\n  merged / ({count} × one letter) = {ratio:.0%} of CPU time "
        f"(target ≤ {MERGED_TARGET:.0%}: {'met' if ratio_ok else 'NOT met'}); "
        f"{wall_ratio:.0%} of wall time\n"
        f"  ZIP / ({count} × one letter) = {zip_ratio:.0%} of CPU time\n"
        f"  highest peak RSS {peak:.0f} MB (target < {RSS_TARGET_MB} MB: "
        f"{'met' if rss_ok else 'NOT met'}); after warm-up, before measuring: "
        f"{one['baseline_rss_mb']:.0f} MB; load average after: {load_average()}"
    )
    if not pages_ok:
        print(f"  PROBLEM: merged PDF has {merged['pages']} pages for {count} letters")
    return ratio_ok and rss_ok and pages_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--letters", type=int, default=200, help="letters (default: 200)")
    parser.add_argument(
        "--single-runs", type=int, default=10, help="single-letter renders timed (default: 10)"
    )
    parser.add_argument("--measure", choices=["one", "merged", "zip"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.single_runs)))
        return 0
    if not 1 <= args.letters <= 2000:
        parser.error("--letters must be between 1 and 2000")

    url, admin, _server = locate_database()
    work = Path(tempfile.mkdtemp(prefix="bench_letters-"))
    try:
        print(f"Setting up: database {BENCH_DB}, migrations, {args.letters} decisions…")
        admin_execute(admin, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        admin_execute(admin, f"CREATE DATABASE {BENCH_DB}")
        env = django_env(url, work)
        setup = prepare(env, work, args.letters)
        results = {}
        for mode in ("one", "merged", "zip"):
            print(f"  measuring {mode}…", flush=True)
            results[mode] = run_measure(env, mode, args.single_runs)
        ok = report(setup, results["one"], results["merged"], results["zip"])
        return 0 if ok else 1
    finally:
        try:
            admin_execute(admin, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        except Exception as exc:
            print(f"Could not drop database {BENCH_DB}: {exc}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
