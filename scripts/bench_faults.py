"""Faults under load: applicants keep applying while PostgreSQL restarts and a web worker dies.

Usage (from the repository root)::

    .venv/bin/python scripts/bench_faults.py                    # 200 applicants, 6 at a time
    .venv/bin/python scripts/bench_faults.py --applicants 80 --concurrency 6

What it does:

1. Starts a PostgreSQL of its own (the embedded wheel, data in a temporary folder: the one
   ``make run`` and the tests use is never restarted), migrates a database, opens a call;
   starts gunicorn (gunicorn.conf.py: 5 sync workers on 2 cores, production settings, outbox
   files) on 127.0.0.1.
2. Applicants go through the journey of scripts/bench_apply.py (sign-in link from the outbox,
   five steps, a PDF letter, « Déposer ») a few at a time. One whose request fails retries the
   deposit like a person would (press again), up to 10 times; an earlier step that fails ends
   that applicant's journey (counted, not lost: nothing was submitted).
3. Once the load runs, the faults, one after the other:
   - a task worker killed with SIGKILL while the receipts are being issued, first, while the
     deposits flow (two workers run; the killed one is started again, as systemd's
     Restart=on-failure would);
   - PostgreSQL restart: fast shutdown, down for ``--outage`` seconds, started again;
   - a gunicorn web worker killed with SIGKILL (the master starts another).
   For each: requests failed during it (until it recovered), seconds to recover (/healthz
   polled every 0.1 s; for the web worker, until the master has all its workers again; for the
   task worker, until no task is left running for the dead worker: the other one put it back).
4. Checks: dossiers lost (« Déposer » answered but not déposé in the database) or duplicated
   (two numbers, two Depot rows, a collectivité with two dossiers), receipt e-mails sent
   twice, receipts never delivered (waited for up to 2 minutes after the last deposit), tasks
   failed for good. Targets: 0 each. Exit code 1 otherwise.

Bounded: at most ``--applicants`` journeys and ``--max-minutes`` minutes; 127.0.0.1 only;
cleans up after itself (gunicorn stopped, its PostgreSQL stopped, temporary files removed).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import quote

from bench_apply import prepare
from bench_client import (
    RECEIPT_SUBJECT,
    Applicant,
    Browser,
    JourneyError,
    Outbox,
    Recorder,
    Sample,
    fill_in,
    sign_in,
    submit,
)
from bench_infra import (
    BENCH_DB,
    GUNICORN_WORKERS,
    HOST,
    ROOT,
    BenchDatabase,
    Gunicorn,
    TaskWorker,
    connect_kwargs,
    drop_database,
    ensure_port_free,
    load_average,
    local_opener,
    machine_description,
    run_django_code,
)

sys.path.insert(0, str(ROOT))

from cerdd_ami import embedded_db  # after the repository is on sys.path


def task_counts(url: str, worker_id: str | None = None) -> dict[str, int]:
    """Tasks by status; with ``worker_id``, only the running ones last claimed by it."""
    import psycopg2

    # Due tasks only (no date means « as soon as possible », stored as the year 9999): the
    # periodic ones wait for their next run, days ahead.
    query = (
        "SELECT status, count(*) FROM django_tasks_database_dbtaskresult"
        " WHERE (run_after <= now() OR run_after >= '9999-01-01')"
    )
    if worker_id is not None:
        query += " AND status = 'RUNNING' AND worker_ids->>-1 = %(worker)s"
    connection = psycopg2.connect(**connect_kwargs(url, BENCH_DB))
    try:
        with connection.cursor() as cursor:
            cursor.execute(query + " GROUP BY status", {"worker": worker_id})
            return dict(cursor.fetchall())
    finally:
        connection.close()


@dataclass
class TimedRecorder(Recorder):
    """bench_apply's recorder, each sample stamped with the moment it ended."""

    stamped: list[tuple[float, Sample]] = field(default_factory=list)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)
            self.stamped.append((time.monotonic(), sample))

    def failed_between(self, start: float, end: float) -> tuple[int, int]:
        with self.lock:
            during = [sample for at, sample in self.stamped if start <= at <= end]
        return sum(not sample.ok for sample in during), len(during)


class Probe(threading.Thread):
    """Polls /healthz every 0.1 s; answers when it was last seen failing and healthy again."""

    def __init__(self, base_url: str):
        super().__init__(daemon=True)
        self.url = base_url + "/healthz"
        self.results: list[tuple[float, bool]] = []
        self.stopped = threading.Event()
        self.opener = local_opener()

    def run(self) -> None:
        while not self.stopped.is_set():
            ok = False
            with contextlib.suppress(OSError), self.opener.open(self.url, timeout=2) as response:
                ok = response.status == 200
            self.results.append((time.monotonic(), ok))
            time.sleep(0.1)

    def wait_healthy(self, timeout: float = 60) -> None:
        """What a person does when the site says 503: wait a little and come back."""
        deadline = time.monotonic() + timeout
        while self.results and not self.results[-1][1] and time.monotonic() < deadline:
            time.sleep(0.2)

    def healthy_again_after(self, moment: float, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, ok in list(self.results):
                if at > moment and ok:
                    return at
            time.sleep(0.05)
        raise RuntimeError("/healthz did not answer 200 again")


def journey(applicant, setup, outbox, probe: Probe, done: dict):
    """Sign in (5 tries), fill in, submit (10 tries, as a person presses again), each try
    once /healthz answers again."""
    applicant.browser.phase = "journey"
    try:
        for attempt in range(5):
            probe.wait_healthy()
            with outbox.lock:
                # A sign-in link works once: a retry waits for the new e-mail's link.
                outbox.links.pop(applicant.email, None)
            try:
                sign_in(applicant, outbox)
                break
            except JourneyError:
                if attempt == 4:
                    raise
        fill_in(applicant, setup.slug, setup.letter)
    except JourneyError:
        done["interrupted"] += 1
        return
    for attempt in range(10):
        probe.wait_healthy()
        try:
            submit(applicant)
        except JourneyError:
            time.sleep(0.5 * (attempt + 1))
            continue
        done["submitted"].append(applicant.pk)
        return
    done["gave_up"].append(applicant.pk)


def receipt_duplicates(directory: Path) -> tuple[int, int]:
    """(receipt e-mails, those sent a second time to the same addresses with the same subject)"""
    keys = Counter()
    for path in directory.glob("*.eml"):
        with path.open("rb") as handle:
            headers = BytesParser(policy=policy.default).parse(handle, headersonly=True)
        subject = str(headers["subject"] or "")
        if subject.startswith(RECEIPT_SUBJECT):
            keys[(subject, str(headers["to"]))] += 1
    return sum(keys.values()), sum(count - 1 for count in keys.values())


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # Enough journeys for the load to outlast the three faults (about 40 s on 2 cores).
    parser.add_argument("--applicants", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--outage", type=float, default=3.0, help="seconds PostgreSQL is down")
    parser.add_argument("--max-minutes", type=float, default=10)
    parser.add_argument("--request-timeout", type=float, default=60)
    args = parser.parse_args(argv)
    if not (1 <= args.applicants <= 500 and 1 <= args.concurrency <= 32):
        parser.error("1-500 applicants, 1-32 at a time")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    ensure_port_free(args.port)
    base_url = f"http://{HOST}:{args.port}"
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    data_dir = work / "pg"
    print(f"Machine: {machine_description()}, load {load_average()}")
    socket_dir = embedded_db.join(data_dir)
    url = f"postgres://postgres@{quote(str(socket_dir), safe='')}:5432/{BENCH_DB}"
    database = BenchDatabase(url=url, admin=connect_kwargs(url, "postgres"))
    gunicorn = None
    task_workers: list[TaskWorker] = []
    probe = None
    failed = False
    try:
        print("Setting up (own PostgreSQL, migrate, open call)...", flush=True)
        setup = prepare(database, work, base_url, args.applicants)
        gunicorn = Gunicorn(setup.env, args.port, work)
        gunicorn.wait_until_healthy(base_url)
        task_workers = [TaskWorker(setup.env, work, name) for name in ("bench-a", "bench-b")]
        probe = Probe(base_url)
        probe.start()
        outbox = Outbox(work / "outbox")
        recorder = TimedRecorder()
        done = {"submitted": [], "gave_up": [], "interrupted": 0}
        applicants = [
            Applicant(i, c, Browser(base_url, recorder, args.request_timeout, f"b-{i}"))
            for i, c in enumerate(setup.communes[: args.applicants], start=1)
        ]
        deadline = time.monotonic() + args.max_minutes * 60
        pool = ThreadPoolExecutor(max_workers=args.concurrency, thread_name_prefix="applicant")
        futures = [
            pool.submit(
                lambda a=a: (
                    None if time.monotonic() > deadline else journey(a, setup, outbox, probe, done)
                )
            )
            for a in applicants
        ]
        time.sleep(15)  # steady load first
        faults = []

        print("Fault 1: a task worker killed (SIGKILL) while it runs a task", flush=True)
        victim = task_workers[0]
        wait_until = time.monotonic() + 60
        while not task_counts(url, victim.worker_id) and time.monotonic() < wait_until:
            time.sleep(0.01)  # kill it mid-task if the load gives it one
        started = time.monotonic()
        mid_task = bool(task_counts(url, victim.worker_id))
        victim.process.kill()
        victim.process.wait(10)
        task_workers[0] = TaskWorker(setup.env, work, "bench-a2")
        while task_counts(url, victim.worker_id):
            if time.monotonic() - started > 120:
                raise RuntimeError("the dead worker's task was never put back")
            time.sleep(0.05)
        recovered = time.monotonic() - started
        failures, total = recorder.failed_between(started, started + recovered + 1)
        faults.append(
            (
                "task worker killed" + (" mid-task" if mid_task else " (idle)"),
                failures,
                total,
                recovered,
                None,
            )
        )

        time.sleep(5)
        print("Fault 2: PostgreSQL restart", flush=True)
        started = time.monotonic()
        embedded_db.stop_server(data_dir)
        time.sleep(args.outage)
        embedded_db.start_server(data_dir)
        back = time.monotonic()
        healthy = probe.healthy_again_after(back)
        time.sleep(1)
        failures, total = recorder.failed_between(started, healthy + 1)
        faults.append(("PostgreSQL restart", failures, total, healthy - started, healthy - back))

        time.sleep(5)
        print("Fault 3: a gunicorn worker killed (SIGKILL)", flush=True)
        import psutil

        master = psutil.Process(gunicorn.process.pid)
        victim = master.children()[0]
        started = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        while True:
            workers = [c for c in master.children() if c.pid != victim.pid and c.is_running()]
            if len(workers) >= GUNICORN_WORKERS:
                break
            if time.monotonic() - started > 60:
                raise RuntimeError("gunicorn did not replace its worker")
            time.sleep(0.05)
        healthy = probe.healthy_again_after(time.monotonic())
        time.sleep(1)
        failures, total = recorder.failed_between(started, healthy + 1)
        faults.append(("web worker killed", failures, total, healthy - started, None))

        for future in futures:
            future.result(timeout=max(1, deadline - time.monotonic()) + 120)
        pool.shutdown()

        print()
        print("| fault | requests failed during it | seconds to recover |")
        print("|---|---|---|")
        for name, failures, total, recover, after_back in faults:
            extra = f" ({after_back:.1f} s after PostgreSQL was back)" if after_back else ""
            print(f"| {name} | {failures} of {total} | {recover:.1f}{extra} |")
        print()
        last_deposit = time.monotonic()
        while task_counts(url).keys() - {"SUCCESSFUL", "FAILED"}:
            if time.monotonic() - last_deposit > 120:
                break
            time.sleep(0.2)
        tasks = task_counts(url)
        print(
            f"Tasks: {tasks.get('SUCCESSFUL', 0)} done, {tasks.get('FAILED', 0)} failed for good, "
            f"{sum(tasks.values()) - tasks.get('SUCCESSFUL', 0) - tasks.get('FAILED', 0)} "
            f"still waiting {time.monotonic() - last_deposit:.1f} s after the last journey"
        )
        submitted = set(done["submitted"])
        found = run_django_code(setup.env, SUBMITTED_CODE, work, BENCH_SLUG=setup.slug)
        lost = sorted(submitted - set(found["deposees"]))
        receipts, twice = receipt_duplicates(work / "outbox")
        print(
            f"Journeys: {len(submitted)} submitted, {done['interrupted']} stopped before the "
            f"deposit by a failed request, {len(done['gave_up'])} gave up after 10 deposits"
        )
        statuses = Counter(
            "no answer" if sample.status is None else f"HTTP {sample.status}"
            for sample in recorder.samples
            if not sample.ok
        )
        print(
            f"Requests: {len(recorder.samples)}, failed {recorder.error_count} "
            f"({', '.join(f'{n} {what}' for what, n in statuses.most_common()) or 'none'})"
        )
        print(f"Dossiers lost: {len(lost)}; duplicated: {found['duplicated']}")
        print(
            f"Receipt e-mails: {receipts}; sent twice: {twice}; deposits still without "
            f"receipt: {found['sans_recu']}"
        )
        # A fault that met no request proves nothing: the load had ended before it.
        unloaded = [name for name, _failures, total, _recover, _back in faults if not total]
        if unloaded:
            print(
                f"No request during: {', '.join(unloaded)}. The load ended before these "
                "faults: run again with more --applicants."
            )
        failed = bool(
            lost
            or found["duplicated"]
            or twice
            or found["sans_recu"]
            or tasks.get("FAILED")
            or unloaded
        )
    finally:
        for worker in task_workers:
            worker.stop()
        if probe is not None:
            probe.stopped.set()
        if gunicorn is not None:
            gunicorn.stop()
        with contextlib.suppress(Exception):
            drop_database(database)
        embedded_db.stop_server(data_dir)
        if not failed:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"Kept for inspection: {work}")
    return 1 if failed else 0


SUBMITTED_CODE = """
import json, os
from pathlib import Path
from django.db.models import Count
from candidatures.models import Appel, Candidature, Depot
appel = Appel.objects.get(slug=os.environ["BENCH_SLUG"])
dossiers = Candidature.objects.filter(appel=appel)
deposees = dossiers.filter(statut=Candidature.Statut.DEPOSEE)
numeros = list(deposees.values_list("numero", flat=True))
duplicated = (
    (len(numeros) - len(set(numeros)))
    + dossiers.values("collectivite").annotate(n=Count("id")).filter(n__gt=1).count()
    + deposees.annotate(n=Count("depots")).filter(n__gt=1).count()
)
Path(os.environ["BENCH_OUTPUT"]).write_text(json.dumps({
    "deposees": list(deposees.values_list("pk", flat=True)),
    "duplicated": duplicated,
    "sans_recu": Depot.objects.filter(candidature__appel=appel, recu="").count(),
}))
"""


if __name__ == "__main__":
    sys.exit(main())
