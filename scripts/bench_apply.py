"""Benchmark of the application journey: N applicants apply at the same time, over real HTTP.

Each applicant is a thread with its own cookie jar that does what a browser does: asks for a
sign-in link, follows it from the development outbox, picks its commune, fills in the five
steps (a real PDF as motivation letter) and submits. The server is gunicorn as configured in
gunicorn.conf.py, in front of PostgreSQL, both on this machine only.

Usage (from the repository root)::

    .venv/bin/python scripts/bench_apply.py                     # 200 applicants, 20 at a time
    .venv/bin/python scripts/bench_apply.py --applicants 50 --concurrency 10

What it does:

1. Creates a throw-away database ``bench_apply`` (on the embedded PostgreSQL, or on
   DATABASE_URL's server when set), migrates it and opens a call with
   ``candidatures.appels.seed.ensure_appel_ouvert()`` with the standard questionnaire
   (``create_standard_questionnaire``). Demo data is never touched.
2. Starts ``gunicorn -c gunicorn.conf.py`` (its size for this machine: 5 sync workers on 2
   cores; ``WEB_CONCURRENCY`` and ``GUNICORN_THREADS`` change it) on 127.0.0.1 with the
   production settings (DEBUG off; plain HTTP), e-mails landing as .eml files in a temporary
   outbox (``DEV_OUTBOX_DIR``) the applicants read their links from, and one task worker
   (``manage.py worker`` at nice 10, the PostgreSQL queue) beside it, which renders and mails
   the receipts.
3. Hits ``/healthz`` as a baseline (a trivial view, one database round trip) with the same
   concurrency and as many requests as the form pages; then runs the journey in three phases
   (sign-in, form pages, submission), so that the form pages' throughput is measured on its own;
   then waits for the worker to deliver every receipt.
4. Measures the server CPU per request of each page type, one type at a time: ``GET
   /connexion/`` (same layout, session and CSRF), the five step pages and the dossier page.
5. Prints throughput and latency percentiles and the targets of issue 15 (deposit and next
   page p95, receipts delivered after the last deposit, CPU ratios), then checks in the
   database that every dossier is submitted exactly once with its own number.

It is a benchmark, not a test: it stops by itself (bounded number of requests, time budget),
cleans up (gunicorn stopped, database dropped, temporary files removed unless something failed)
and exits 1 when any request failed or the database check finds a lost or duplicated dossier.
Only the standard library and the project's own dependencies are used (no ``requests``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench_client import (
    FORM_PAGE_REQUESTS_PER_APPLICANT,
    Applicant,
    Browser,
    Outbox,
    PhaseResult,
    Recorder,
    Sample,
    fill_in,
    probe_pages,
    run_baseline,
    run_phase,
    sign_in,
    submit,
)
from bench_infra import (
    BENCH_DB,
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    HOST,
    BenchDatabase,
    Gunicorn,
    TaskWorker,
    django_env,
    drop_database,
    ensure_port_free,
    load_average,
    locate_database,
    machine_description,
    recreate_database,
    run_django_code,
    run_manage,
    wait_for_receipts,
    warm_up,
)

# Targets (issue 15): milliseconds, seconds, CPU ratios against GET /connexion/.
DEPOSIT_P95_TARGET_MS = 300
AFTER_DEPOSIT_P95_TARGET_MS = 300
RECEIPTS_TARGET_S = 60
STEP_CPU_RATIO_TARGET = 2.5
DOSSIER_CPU_RATIO_TARGET = 3.0

# Run inside ``manage.py shell -c`` against the bench database: the open call, the communes
# the applicants will pick (distinct, active, eligible) and a motivation letter rendered once
# by the project's own PDF pipeline (a realistic WeasyPrint PDF of a few KB).
SETUP_CODE = """
import json, os
from pathlib import Path
from candidatures.models import Collectivite
from cerdd_ami.pdf import pdf_from_html
from candidatures.appels.seed import ensure_appel_ouvert
from candidatures.questionnaires.services import create_standard_questionnaire

appel = ensure_appel_ouvert()
# A fresh call has no questionnaire: steps 3 (texts) and 4 (letter) come from it.
create_standard_questionnaire(appel=appel)
wanted = int(os.environ["BENCH_APPLICANTS"])
communes = list(
    Collectivite.objects.active()
    .filter(nature=Collectivite.Nature.COMMUNE, interregional=False)
    .exclude(insee="")
    .order_by("insee")
    .values("siren", "insee", "nom", "codes_postaux")[:wanted]
)
paragraph = (
    "<p>Notre commune souhaite s'engager dans le cycle « Vers des territoires participatifs » "
    "pour donner aux habitant·es une place réelle dans les décisions de transition.</p>"
)
html = (
    "<html><head><meta charset='utf-8'><title>Lettre de motivation</title></head><body>"
    "<h1>Lettre de motivation</h1>" + paragraph * 12 + "</body></html>"
)
Path(os.environ["BENCH_LETTER"]).write_bytes(pdf_from_html(html))
Path(os.environ["BENCH_OUTPUT"]).write_text(
    json.dumps({"slug": appel.slug, "prefixe": appel.prefixe_numero, "communes": communes})
)
"""

# Run inside ``manage.py shell -c`` after the journey: what the database holds for the call.
VERIFY_CODE = """
import json, os
from pathlib import Path
from django.contrib.auth import get_user_model
from django.db.models import Count
from candidatures.models import Appel, Candidature, Depot

appel = Appel.objects.get(slug=os.environ["BENCH_SLUG"])
dossiers = Candidature.objects.filter(appel=appel)
deposees = dossiers.filter(statut=Candidature.Statut.DEPOSEE)
numeros = list(deposees.values_list("numero", flat=True))
depots = Depot.objects.filter(candidature__appel=appel)
Path(os.environ["BENCH_OUTPUT"]).write_text(json.dumps({
    "candidatures": dossiers.count(),
    "deposees": deposees.count(),
    "brouillons": dossiers.filter(statut=Candidature.Statut.BROUILLON).count(),
    "numeros": numeros,
    "collectivites_en_double": dossiers.values("collectivite")
        .annotate(n=Count("id")).filter(n__gt=1).count(),
    "depots": depots.count(),
    "deposees_sans_un_depot": deposees.annotate(n=Count("depots")).exclude(n=1).count(),
    "recus_manquants": sum(1 for d in depots if not d.recu.storage.exists(d.recu.name)),
    "recus_non_envoyes": depots.filter(recu_envoye_at__isnull=True).count(),
    "comptes": get_user_model().objects.filter(email__startswith="bench-").count(),
}))
"""


# ---------------------------------------------------------------------------------------------
# Command line and machine


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark the application journey: N concurrent applicants sign in, fill in and "
            "submit a dossier against gunicorn and PostgreSQL on 127.0.0.1, in a throw-away "
            "database. Exits 1 on any request error or lost/duplicated dossier."
        )
    )
    parser.add_argument(
        "--applicants", type=int, default=200, help="number of applicants (default: 200)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=20,
        help="applicants (and baseline requests) in flight at once (default: 20)",
    )
    parser.add_argument(
        "--port", type=int, default=8765, help="gunicorn port on 127.0.0.1 (default: 8765)"
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=120.0,
        help="seconds before one HTTP request counts as failed (default: 120, gunicorn's own)",
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        default=15.0,
        help="time budget for the journey; applicants not started by then fail (default: 15)",
    )
    parser.add_argument(
        "--keep-temp",
        action="store_true",
        help="keep the temporary directory (outbox, media, gunicorn logs) even on success",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.applicants <= 2000:
        parser.error("--applicants must be between 1 and 2000")
    if not 1 <= args.concurrency <= 200:
        parser.error("--concurrency must be between 1 and 200")
    if not 1024 <= args.port <= 65535:
        parser.error("--port must be between 1024 and 65535")
    return args


STEP_PAGES = {f"GET step {n}": f"/candidature/{{pk}}/etape/{n}/" for n in range(1, 6)}
DOSSIER_PAGE = {"GET dossier page": "/candidature/{pk}/"}


# ---------------------------------------------------------------------------------------------
# Report


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile: an observed value, never an interpolation."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_row(label: str, samples: list[Sample]) -> str:
    values = sorted(sample.seconds * 1000 for sample in samples)
    errors = sum(1 for sample in samples if not sample.ok)
    return (
        f"  {label:<44} {len(values):>6} {errors:>4} {percentile(values, 50):>8.0f} "
        f"{percentile(values, 95):>8.0f} {percentile(values, 99):>8.0f} {values[-1]:>8.0f}"
    )


def cpu_columns(seconds: float | None, requests: int) -> tuple[str, str]:
    """CPU seconds and CPU milliseconds per request, or "?" when they could not be read."""
    if seconds is None or not requests:
        return "?", "?"
    return f"{seconds:.1f}", f"{seconds * 1000 / requests:.1f}"


def print_phases(phases: list[PhaseResult]) -> None:
    # CPU per request is measured on the server processes: unlike req/s, it barely moves when
    # other jobs share the machine.
    print(
        f"  {'phase':<20} {'requests':>8} {'wall s':>8} {'req/s':>8} {'app CPU s':>9} "
        f"{'app ms/req':>10} {'db CPU s':>8} {'db ms/req':>9} {'client CPU s':>12} "
        f"{'recycled':>8}"
    )
    for phase in phases:
        rate = phase.requests / phase.seconds if phase.seconds else float("nan")
        app_total, app_per_request = cpu_columns(phase.server_cpu, phase.requests)
        db_total, db_per_request = cpu_columns(phase.db_cpu, phase.requests)
        print(
            f"  {phase.name:<20} {phase.requests:>8} {phase.seconds:>8.1f} {rate:>8.1f} "
            f"{app_total:>9} {app_per_request:>10} {db_total:>8} {db_per_request:>9} "
            f"{phase.client_cpu:>12.1f} {phase.recycled:>8}"
        )


def print_latencies(samples: list[Sample], phases: list[str]) -> None:
    print(
        f"  {'request (ms)':<44} {'count':>6} {'err':>4} {'p50':>8} {'p95':>8} {'p99':>8} "
        f"{'max':>8}"
    )
    for phase in phases:
        by_label: dict[str, list[Sample]] = defaultdict(list)
        for sample in samples:
            if sample.phase == phase:
                by_label[sample.label].append(sample)
        print(f"  [{phase}]")
        for label, group in by_label.items():
            print(latency_row(label, group))
        merged = [sample for group in by_label.values() for sample in group]
        if merged:
            print(latency_row(f"all {phase} requests", merged))
    journey = [sample for sample in samples if sample.phase not in ("baseline", "cpu probe")]
    if journey:
        print(latency_row("ALL journey requests", journey))


def verify_database(setup: BenchSetup, work: Path, expected: int) -> list[str]:
    """What is wrong in the database (empty list: every dossier submitted exactly once)."""
    found = run_django_code(setup.env, VERIFY_CODE, work, BENCH_SLUG=setup.slug)
    numeros = found["numeros"]
    wanted = {f"{setup.prefixe}-{n:03d}" for n in range(1, expected + 1)}
    problems = []
    if found["candidatures"] != expected:
        problems.append(f"{found['candidatures']} candidatures instead of {expected}")
    if found["deposees"] != expected:
        problems.append(f"{found['deposees']} with statut 'deposee' instead of {expected}")
    if len(set(numeros)) != len(numeros) or "" in numeros:
        problems.append(f"duplicated or empty numeros among {len(numeros)}")
    elif set(numeros) != wanted:
        missing = sorted(wanted - set(numeros))[:5]
        problems.append(f"numeros are not 001..{expected:03d} (missing e.g. {missing})")
    if found["collectivites_en_double"]:
        problems.append(f"{found['collectivites_en_double']} collectivités with two dossiers")
    if found["depots"] != expected:
        problems.append(f"{found['depots']} Depot rows instead of {expected}")
    if found["deposees_sans_un_depot"]:
        problems.append(f"{found['deposees_sans_un_depot']} submitted dossiers without one Depot")
    if found["recus_manquants"]:
        problems.append(f"{found['recus_manquants']} receipt PDFs missing from MEDIA_ROOT")
    if found["recus_non_envoyes"]:
        problems.append(f"{found['recus_non_envoyes']} receipts not mailed by the worker")
    print(
        f"  candidatures {found['candidatures']}, deposees {found['deposees']}, brouillons "
        f"{found['brouillons']}, distinct numeros {len(set(numeros))}, Depot rows "
        f"{found['depots']}, applicant accounts {found['comptes']}"
    )
    return problems


# ---------------------------------------------------------------------------------------------
# Main


@dataclass
class BenchSetup:
    pg_version: str
    env: dict  # environment of manage.py and gunicorn
    slug: str
    prefixe: str
    communes: list[dict]
    letter: bytes


def prepare(database: BenchDatabase, work: Path, base_url: str, applicants: int) -> BenchSetup:
    """Fresh bench database, migrated, with an open call; communes and letter for applicants."""
    pg_version = recreate_database(database)
    env = django_env(database, work, base_url)
    run_manage(env, "migrate", "--noinput", "-v", "0")
    letter_path = work / "lettre-motivation.pdf"
    found = run_django_code(
        env,
        SETUP_CODE,
        work,
        BENCH_APPLICANTS=str(applicants),
        BENCH_LETTER=str(letter_path),
    )
    if len(found["communes"]) < applicants:
        raise RuntimeError(f"only {len(found['communes'])} eligible communes in the database")
    return BenchSetup(
        pg_version=pg_version,
        env=env,
        slug=found["slug"],
        prefixe=found["prefixe"],
        communes=found["communes"],
        letter=letter_path.read_bytes(),
    )


def run_journey(
    setup: BenchSetup,
    args: argparse.Namespace,
    base_url: str,
    outbox: Outbox,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> tuple[list[Applicant], list[PhaseResult], dict[str, float | None]]:
    """Sign-in, form pages, submission for every applicant; returns who completed, the phases
    and the step pages' CPU per request."""
    applicants = [
        Applicant(i, commune, Browser(base_url, recorder, args.request_timeout, f"bench-{i}"))
        for i, commune in enumerate(setup.communes[: args.applicants], start=1)
    ]
    common = {
        "concurrency": args.concurrency,
        "deadline": time.monotonic() + args.max_minutes * 60,
        "recorder": recorder,
        "gunicorn": gunicorn,
    }
    signed_in, signin = run_phase("sign-in", applicants, lambda a: sign_in(a, outbox), **common)
    print(f"  sign-in done: {len(signed_in)} applicants in {signin.seconds:.1f} s", flush=True)
    filled, form = run_phase(
        "form pages", signed_in, lambda a: fill_in(a, setup.slug, setup.letter), **common
    )
    print(f"  form pages done: {len(filled)} dossiers in {form.seconds:.1f} s", flush=True)
    # The step pages' CPU, one page type at a time, on the drafts the applicants just filled.
    step_cpu = probe_pages(
        filled, STEP_PAGES, base_url=base_url, args=args, recorder=recorder, gunicorn=gunicorn
    )
    print("  step pages' CPU probed", flush=True)
    submitted, submission = run_phase("submission", filled, submit, **common)
    print(f"  submission done: {len(submitted)} dossiers in {submission.seconds:.1f} s")
    return submitted, [signin, form, submission], step_cpu


def total_of(phases: list[PhaseResult]) -> PhaseResult:
    return PhaseResult(
        name="journey (all)",
        seconds=sum(p.seconds for p in phases),
        requests=sum(p.requests for p in phases),
        server_cpu=sum(p.server_cpu or 0 for p in phases),
        db_cpu=sum(p.db_cpu or 0 for p in phases),
        client_cpu=sum(p.client_cpu for p in phases),
        recycled=sum(p.recycled for p in phases),
    )


def rate(phase: PhaseResult) -> float:
    return phase.requests / phase.seconds if phase.seconds else 0.0


def print_report(
    phases: list[PhaseResult],
    baseline: PhaseResult,
    recorder: Recorder,
    completed: int,
    args: argparse.Namespace,
) -> None:
    journey = total_of(phases)
    print(
        f"\nResults\n  total journey time {journey.seconds:.1f} s; applicants completed "
        f"{completed}/{args.applicants}; errors {recorder.error_count}; load average after "
        f"{load_average()}"
    )
    # app/db CPU: gunicorn and PostgreSQL processes; recycled: workers gunicorn restarted
    # (max_requests), each paying the imports again inside the phase.
    print_phases([*phases, journey, baseline])
    print()
    print_latencies(recorder.samples, ["sign-in", "form pages", "submission", "baseline"])
    form_rate, baseline_rate = rate(phases[1]), rate(baseline)
    ratio = form_rate / baseline_rate if baseline_rate else 0.0
    print(
        f"\n  form pages {form_rate:.1f} req/s / baseline {baseline_rate:.1f} req/s = "
        f"{ratio:.0%} (for information: issue 15 replaced this target by CPU ratios)"
    )
    if recorder.errors:
        print(f"\nErrors ({recorder.error_count}, first {len(recorder.errors)}):")
        for message in recorder.errors:
            print(f"  - {message}")


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_targets(
    samples: list[Sample],
    receipts: dict,
    expected: int,
    worker_cpu: float | None,
    step_cpu: dict[str, float | None],
    dossier_cpu: dict[str, float | None],
) -> list[str]:
    """The targets of issue 15, printed; returns the ones missed."""
    missed = []
    print("\nTargets (issue 15)")
    for label, target in [
        ("POST /candidature/<pk>/deposer/", DEPOSIT_P95_TARGET_MS),
        ("GET /candidature/<pk>/", AFTER_DEPOSIT_P95_TARGET_MS),
    ]:
        values = sorted(s.seconds * 1000 for s in samples if s.label == label)
        p95 = percentile(values, 95)
        ok = p95 <= target
        print(f"  {label} p95 {p95:.0f} ms (≤ {target} ms: {verdict(ok)})")
        if not ok:
            missed.append(f"{label} p95")

    last_deposit, last_receipt = receipts["last_deposit"], receipts["last_receipt"]
    delay = (last_receipt - last_deposit).total_seconds() if last_deposit and last_receipt else None
    ok = receipts["sent"] == expected and delay is not None and delay <= RECEIPTS_TARGET_S
    delay_text = f"{delay:.1f} s" if delay is not None else "?"
    cpu_text = f"{worker_cpu:.1f} s" if worker_cpu is not None else "?"
    print(
        f"  receipts delivered {receipts['sent']}/{expected}; every receipt delivered ≤ "
        f"{RECEIPTS_TARGET_S} s after the last deposit: last one {delay_text} after "
        f"({verdict(ok)}); worker CPU {cpu_text}"
    )
    if not ok:
        missed.append("receipts")

    for probe, pages, target in [
        (step_cpu, STEP_PAGES, STEP_CPU_RATIO_TARGET),
        (dossier_cpu, DOSSIER_PAGE, DOSSIER_CPU_RATIO_TARGET),
    ]:
        reference = probe.get("GET /connexion/")
        print(f"  server CPU per request: GET /connexion/ {reference or float('nan'):.1f} ms")
        for label in pages:
            cpu = probe.get(label)
            ratio = cpu / reference if cpu and reference else float("nan")
            ok = ratio <= target
            print(
                f"    {label:<20} {cpu or float('nan'):>6.1f} ms = {ratio:.1f}× "
                f"(≤ {target}×: {verdict(ok)})"
            )
            if not ok:
                missed.append(f"{label} CPU ratio")
    return missed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base_url = f"http://{HOST}:{args.port}"
    ensure_port_free(args.port)
    machine = machine_description()
    database = locate_database()
    work = Path(tempfile.mkdtemp(prefix="bench_apply-"))
    gunicorn: Gunicorn | None = None
    worker: TaskWorker | None = None
    recorder = Recorder()
    failed = True
    try:
        print("Setting up: database bench_apply, migrations, open call…", flush=True)
        setup = prepare(database, work, base_url, args.applicants)
        gunicorn = Gunicorn(setup.env, args.port, work)
        gunicorn.wait_until_healthy(base_url)
        worker = TaskWorker(setup.env, work)
        boot_cpu = gunicorn.cpu_seconds()
        warm_count, warm_seconds = warm_up(base_url, args.concurrency)
        print(
            f"\nCerdd AMI — application journey benchmark ({time.strftime('%Y-%m-%d %H:%M')})\n"
            f"  machine: {machine['cpus']} CPUs, {machine['ram']} RAM, {machine['platform']}\n"
            f"  Python {machine['python']}, PostgreSQL {setup.pg_version}, gunicorn "
            f"{GUNICORN_WORKERS} workers × {GUNICORN_THREADS} threads + 1 task worker, "
            "DEBUG=0 (outbox files)\n"
            f"  applicants {args.applicants}, concurrency {args.concurrency}, letter PDF "
            f"{len(setup.letter) / 1024:.1f} KB, load average before {load_average()}\n"
            f"  gunicorn start-up CPU {boot_cpu or 0:.1f} s (master + {GUNICORN_WORKERS} workers); "
            f"warm-up (not counted): {warm_count} requests in {warm_seconds:.1f} s",
            flush=True,
        )

        # Baseline first, on a warm server: workers recycled by max_requests later in the run
        # would otherwise charge their start-up to the trivial view.
        baseline = run_baseline(
            base_url,
            FORM_PAGE_REQUESTS_PER_APPLICANT * args.applicants,
            concurrency=args.concurrency,
            timeout=args.request_timeout,
            recorder=recorder,
            gunicorn=gunicorn,
        )
        print(f"  baseline done: {baseline.requests} requests in {baseline.seconds:.1f} s")
        outbox = Outbox(work / "outbox")
        worker_cpu_before = worker.cpu_seconds()
        submitted, phases, step_cpu = run_journey(setup, args, base_url, outbox, recorder, gunicorn)
        receipts = wait_for_receipts(database, worker, len(submitted))
        worker_cpu_after = worker.cpu_seconds()
        worker_cpu = (
            None
            if None in (worker_cpu_before, worker_cpu_after)
            else worker_cpu_after - worker_cpu_before
        )
        print(f"  receipts: {receipts['sent']} mailed by the worker", flush=True)
        # The dossier page once its receipt is there, as applicants come back to it.
        dossier_cpu = probe_pages(
            submitted,
            DOSSIER_PAGE,
            base_url=base_url,
            args=args,
            recorder=recorder,
            gunicorn=gunicorn,
        )
        print_report(phases, baseline, recorder, len(submitted), args)
        print_targets(
            recorder.samples, receipts, args.applicants, worker_cpu, step_cpu, dossier_cpu
        )

        print("\nDatabase check")
        try:
            problems = verify_database(setup, work, args.applicants)
        except RuntimeError as exc:  # manage.py failed; its output is printed above
            problems = [f"database check could not run: {exc}"]
        receipts = outbox.count_receipts()
        if receipts != args.applicants:
            problems.append(f"{receipts} receipt e-mails in the outbox, not {args.applicants}")
        for problem in problems:
            print(f"  PROBLEM: {problem}")
        if not problems:
            print(f"  no lost or duplicated dossier ({receipts} receipt e-mails sent)")
        failed = bool(recorder.error_count or problems)
        return 1 if failed else 0
    finally:
        if worker is not None:
            worker.stop()
        if gunicorn is not None:
            gunicorn.stop()
        try:
            drop_database(database)
        except Exception as exc:
            print(f"Could not drop database {BENCH_DB}: {exc}", file=sys.stderr)
        if failed or args.keep_temp:
            # Outbox, uploaded files and gunicorn's logs explain what went wrong.
            print(f"Temporary files kept in {work} (gunicorn-error.log, worker.log for tracebacks)")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
