"""Client side of the HTTP benchmarks: each applicant's "browser" (cookies, CSRF, timed
requests checked against the expected status and redirect), the development outbox the sign-in
links arrive in, the application journey (sign-in, form pages, submission) and the phases that
run it concurrently while metering the server's CPU.

Used by scripts/bench_apply.py and scripts/bench_faults.py (sibling modules, plain imports).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import URLError
from urllib.parse import urlencode, urlsplit
from urllib.request import Request

from bench_infra import Gunicorn, local_opener, postgres_cpu_delta, postgres_cpu_snapshot

CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
SIGN_IN_LINK_RE = re.compile(r"(/connexion/lien/\?jeton=[^\s<>\"]+)")
STEP1_PATH_RE = re.compile(r"/candidature/(\d+)/etape/1/")
SIGN_IN_SUBJECT = "Votre lien de connexion"
RECEIPT_SUBJECT = "Accusé de réception"
MAX_ERROR_MESSAGES = 20

STEP3_TEXT = (
    "La commune a engagé un plan climat en 2019 et réuni un premier conseil citoyen en 2022. "
    "Nous voulons passer de la consultation ponctuelle à une participation continue, "
    "outiller les élu·es et les agent·es, et associer les associations locales aux choix "
    "d'aménagement, d'alimentation et de mobilité. "
)


# ---------------------------------------------------------------------------------------------
# Phases: what each one cost


@dataclass
class PhaseResult:
    """What one phase cost: wall time, requests, CPU seconds (None when unreadable)."""

    name: str
    seconds: float
    requests: int
    server_cpu: float | None
    db_cpu: float | None
    client_cpu: float
    recycled: int = 0  # workers gunicorn replaced meanwhile (max_requests)


class Meter:
    """Wall time, requests, CPU (gunicorn, PostgreSQL, this client), recycled workers of a phase."""

    def __init__(self, name: str, recorder: Recorder, gunicorn: Gunicorn):
        self.name, self.recorder, self.gunicorn = name, recorder, gunicorn

    def __enter__(self) -> Meter:
        self.requests = len(self.recorder.samples)
        self.server = self.gunicorn.cpu_seconds()
        self.db = postgres_cpu_snapshot()
        self.booted = self.gunicorn.workers_booted()
        self.client = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        seconds = time.perf_counter() - self.started
        server = self.gunicorn.cpu_seconds()
        self.result = PhaseResult(
            name=self.name,
            seconds=seconds,
            requests=len(self.recorder.samples) - self.requests,
            server_cpu=None if None in (server, self.server) else server - self.server,
            db_cpu=postgres_cpu_delta(self.db, postgres_cpu_snapshot()),
            client_cpu=time.process_time() - self.client,
            recycled=self.gunicorn.workers_booted() - self.booted,
        )


# ---------------------------------------------------------------------------------------------
# HTTP client: one "browser" per applicant


@dataclass
class Sample:
    phase: str
    label: str
    status: int | None
    seconds: float
    ok: bool


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    error_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sample: Sample) -> None:
        with self.lock:
            self.samples.append(sample)

    def error(self, message: str) -> None:
        with self.lock:
            self.error_count += 1
            if len(self.errors) < MAX_ERROR_MESSAGES:
                self.errors.append(message)


class JourneyError(Exception):
    """One applicant cannot go on: the request failed or the app did not do what was asked.

    ``recorded`` is True when the failing request already counted itself as an error.
    """

    def __init__(self, message: str, *, recorded: bool = False):
        super().__init__(message)
        self.recorded = recorded


@dataclass
class Page:
    status: int
    location: str  # path of the Location header, "" when none
    body: str


class Browser:
    """An applicant's browser: its own cookies and CSRF token, every request timed.

    Each request states the status it expects and, for a redirect, a regular expression its
    target path must match entirely: a form re-displayed with errors (200) or a redirect to
    the wrong page is an error even though HTTP-wise it succeeded.
    """

    def __init__(self, base_url: str, recorder: Recorder, timeout: float, who: str):
        self.base_url = base_url
        self.recorder = recorder
        self.timeout = timeout
        self.who = who
        self.phase = ""
        self.csrf_token = ""
        self.opener = local_opener(CookieJar())

    def get(self, label: str, path: str, *, expect: int = 200, location: str = "") -> Page:
        request = Request(self._url(path))  # noqa: S310 - http://127.0.0.1 only, see _url
        return self._send(label, request, expect, location)

    def post(
        self,
        label: str,
        path: str,
        fields: dict[str, str],
        *,
        files: dict[str, tuple[str, str, bytes]] | None = None,
        expect: int = 302,
        location: str = "",
    ) -> Page:
        fields = {"csrfmiddlewaretoken": self.csrf_token, **fields}
        if files:
            body, content_type = encode_multipart(fields, files)
        else:
            body, content_type = urlencode(fields).encode(), "application/x-www-form-urlencoded"
        request = Request(self._url(path), data=body, method="POST")  # noqa: S310 - see _url
        request.add_header("Content-Type", content_type)
        # Browsers send Origin on POST; Django's CSRF check compares it with the host.
        request.add_header("Origin", self.base_url)
        return self._send(label, request, expect, location)

    def _url(self, path: str) -> str:
        # Paths only (a sign-in link from an e-mail included): never another host or scheme.
        if not path.startswith("/"):
            raise JourneyError(f"{self.who}: refusing to request {path!r}, not a local path")
        return self.base_url + path

    def _send(self, label: str, request: Request, expect: int, location: str) -> Page:
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                body = response.read()
                status = response.status
                target = urlsplit(response.headers.get("Location") or "").path
        except (URLError, OSError) as exc:
            elapsed = time.perf_counter() - started
            self.recorder.add(Sample(self.phase, label, None, elapsed, ok=False))
            message = f"{self.who} {label}: {exc.__class__.__name__}: {exc} after {elapsed:.1f} s"
            self.recorder.error(message)
            raise JourneyError(message, recorded=True) from exc
        elapsed = time.perf_counter() - started
        problem = ""
        if not 200 <= status < 400:
            problem = f"HTTP {status}"
        elif status != expect:
            problem = f"HTTP {status}, expected {expect}"
        elif location and not re.fullmatch(location, target):
            problem = f"redirected to {target!r}, expected {location!r}"
        self.recorder.add(Sample(self.phase, label, status, elapsed, ok=not problem))
        if problem:
            message = f"{self.who} {label}: {problem}"
            self.recorder.error(message)
            raise JourneyError(message, recorded=True)
        text = body.decode("utf-8", errors="replace")
        token = CSRF_RE.search(text)
        if token:
            # Each page carries the current token; it changes when the session logs in.
            self.csrf_token = token.group(1)
        return Page(status, target, text)


def encode_multipart(
    fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]
) -> tuple[bytes, str]:
    boundary = f"----bench{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            f"{value}\r\n".encode()
        )
    for name, (filename, content_type, content) in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
            + content
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------------------------------
# Development outbox: where the sign-in links arrive


def is_complete(message, raw: bytes) -> bool:
    """Whether an .eml file was read whole: a multipart message ends with its closing boundary."""
    boundary = message.get_boundary()
    if boundary:
        return raw.rstrip().endswith(f"--{boundary}--".encode())
    return message["Message-ID"] is not None and bool(message.get_payload())


class Outbox:
    """Index of the .eml files gunicorn writes, shared by all applicant threads.

    One scan at a time under a lock, each file parsed once: 20 threads re-reading a directory
    of hundreds of messages would load the 2 cores the server needs.
    """

    def __init__(self, directory: Path):
        self.directory = directory
        self.seen: set[str] = set()
        self.links: dict[str, str] = {}
        self.lock = threading.Lock()

    def _scan(self) -> None:
        if not self.directory.is_dir():
            return
        for entry in os.scandir(self.directory):
            if not entry.name.endswith(".eml") or entry.name in self.seen:
                continue
            raw = Path(entry.path).read_bytes()
            message = BytesParser(policy=policy.default).parsebytes(raw)
            if not is_complete(message, raw):
                # The backend writes in place: we may read a file gunicorn is still writing.
                # Parse it again on the next scan rather than losing its link.
                continue
            self.seen.add(entry.name)
            if not str(message["subject"] or "").startswith(SIGN_IN_SUBJECT):
                continue
            body = message.get_body(preferencelist=("plain",))
            match = SIGN_IN_LINK_RE.search(body.get_content() if body else "")
            if match:
                for address in message["to"].addresses:
                    self.links[address.addr_spec.lower()] = match.group(1)

    def wait_for_link(self, email: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if email not in self.links:
                    self._scan()
                link = self.links.get(email)
            if link:
                return link
            if time.monotonic() > deadline:
                raise JourneyError(f"{email}: no sign-in link in the outbox after {timeout} s")
            time.sleep(0.05)

    def count_receipts(self) -> int:
        count = 0
        for path in self.directory.glob("*.eml"):
            with path.open("rb") as handle:
                headers = BytesParser(policy=policy.default).parse(handle, headersonly=True)
            if str(headers["subject"] or "").startswith(RECEIPT_SUBJECT):
                count += 1
        return count


# ---------------------------------------------------------------------------------------------
# The journey


@dataclass
class Applicant:
    index: int
    commune: dict
    browser: Browser
    pk: int | None = None

    @property
    def email(self) -> str:
        return f"bench-{self.index}@commune.test"


def postcode_of(commune: dict) -> str:
    match = re.search(r"\d{5}", commune.get("codes_postaux") or "")
    return match.group(0) if match else "59000"


def sign_in(applicant: Applicant, outbox: Outbox) -> None:
    browser = applicant.browser
    browser.get("GET /connexion/", "/connexion/")
    browser.post(
        "POST /connexion/",
        "/connexion/",
        {"email": applicant.email, "next": ""},
        location="/connexion/lien-envoye/",
    )
    browser.get("GET /connexion/lien-envoye/", "/connexion/lien-envoye/")
    link = outbox.wait_for_link(applicant.email)
    browser.get("GET /connexion/lien/", link, expect=302, location="/candidature/")
    browser.get("GET /candidature/", "/candidature/")


# Requests fill_in() makes: GET+POST nouvelle, GET+POST steps 1 to 3, step 4 GET, POST (letter)
# and GET again, step 5 GET, POST and GET again. The baseline makes as many /healthz requests.
FORM_PAGE_REQUESTS_PER_APPLICANT = 14


def fill_in(applicant: Applicant, slug: str, letter: bytes) -> None:
    browser, i, commune = applicant.browser, applicant.index, applicant.commune
    page = browser.get(
        "GET /candidature/nouvelle/<slug>/?q=<INSEE>",
        f"/candidature/nouvelle/{slug}/?q={commune['insee']}",
    )
    if commune["siren"] not in page.body:
        raise JourneyError(f"{applicant.email}: commune {commune['insee']} not in search results")
    page = browser.post(
        "POST /candidature/nouvelle/<slug>/",
        f"/candidature/nouvelle/{slug}/",
        {"collectivite": commune["siren"]},
        location=STEP1_PATH_RE.pattern,
    )
    applicant.pk = pk = int(STEP1_PATH_RE.fullmatch(page.location).group(1))
    step_path = f"/candidature/{pk}/etape/{{}}/"

    answers = {
        1: {
            "adresse": f"{i} place de la Mairie",
            "code_postal": postcode_of(commune),
            "ville": commune["nom"],
            "telephone": "03 21 00 00 00",
            "email_contact": f"mairie-{i}@commune.test",
        },
        2: {
            "ref_pol_nom": "Camille Martin",
            "ref_pol_fonction": "Adjointe à la démocratie participative",
            "ref_pol_email": f"elue-{i}@commune.test",
            "ref_pol_telephone": "03 21 00 00 01",
            "ref_tech_nom": "Dominique Leroy",
            "ref_tech_fonction": "Chargé de mission développement durable",
            "ref_tech_email": f"technique-{i}@commune.test",
            "ref_tech_telephone": "03.21.00.00.02",
            "contact_nom": "",
            "contact_fonction": "",
            "contact_email": "",
            "contact_telephone": "",
        },
        # About 1,200 characters per answer: a plausible length, printed on the receipt.
        3: dict.fromkeys(("motivations", "actions", "pistes", "besoins"), STEP3_TEXT * 4),
    }
    for step in (1, 2, 3):
        browser.get(f"GET /candidature/<pk>/etape/{step}/", step_path.format(step))
        browser.post(
            f"POST /candidature/<pk>/etape/{step}/",
            step_path.format(step),
            {**answers[step], "continuer": ""},
            location=step_path.format(step + 1),
        )

    browser.get("GET /candidature/<pk>/etape/4/", step_path.format(4))
    browser.post(
        "POST /candidature/<pk>/etape/4/ (PDF)",
        step_path.format(4),
        {"enregistrer": ""},
        files={"lettre": ("lettre-motivation.pdf", "application/pdf", letter)},
        location=step_path.format(4),
    )
    browser.get("GET /candidature/<pk>/etape/4/", step_path.format(4))

    browser.get("GET /candidature/<pk>/etape/5/", step_path.format(5))
    browser.post(
        "POST /candidature/<pk>/etape/5/",
        step_path.format(5),
        {
            "engagement_binome": "on",
            "engagement_experimentation": "on",
            "consentement_donnees": "on",
            "enregistrer": "",
        },
        location=step_path.format(5),
    )
    page = browser.get("GET /candidature/<pk>/etape/5/", step_path.format(5))
    if "il reste à compléter" in page.body:
        raise JourneyError(f"{applicant.email}: dossier {pk} still incomplete after step 5")


def submit(applicant: Applicant) -> None:
    browser, pk = applicant.browser, applicant.pk
    browser.post(
        "POST /candidature/<pk>/deposer/",
        f"/candidature/{pk}/deposer/",
        {},
        location=f"/candidature/{pk}/",
    )
    browser.get("GET /candidature/<pk>/", f"/candidature/{pk}/")


def run_phase(
    name: str,
    applicants: list[Applicant],
    action,
    *,
    concurrency: int,
    deadline: float,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> tuple[list[Applicant], PhaseResult]:
    """Run ``action`` for every applicant, ``concurrency`` at a time; returns who succeeded."""

    def one(applicant: Applicant) -> Applicant | None:
        if time.monotonic() > deadline:
            recorder.error(f"{applicant.email} {name}: not started, time budget exhausted")
            return None
        applicant.browser.phase = name
        try:
            action(applicant)
        except JourneyError as exc:
            if not exc.recorded:
                recorder.error(str(exc))
            return None
        except Exception as exc:  # a bug in this script must not hang the pool
            recorder.error(f"{applicant.email} {name}: {exc.__class__.__name__}: {exc}")
            return None
        return applicant

    with (
        Meter(name, recorder, gunicorn) as meter,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name) as pool,
    ):
        results = list(pool.map(one, applicants))
    return [applicant for applicant in results if applicant is not None], meter.result


def run_baseline(
    base_url: str,
    count: int,
    *,
    concurrency: int,
    timeout: float,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> PhaseResult:
    """``count`` GET /healthz with the same client and concurrency as the journey."""
    local = threading.local()

    def one(_: int) -> None:
        if not hasattr(local, "browser"):
            local.browser = Browser(base_url, recorder, timeout, "baseline")
            local.browser.phase = "baseline"
        with contextlib.suppress(JourneyError):  # already counted by the browser
            local.browser.get("GET /healthz", "/healthz")

    with (
        Meter("baseline /healthz", recorder, gunicorn) as meter,
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="baseline") as pool,
    ):
        list(pool.map(one, range(count)))
    return meter.result


def cpu_per_request(
    pairs: list[tuple[Browser, str, str]], *, concurrency: int, gunicorn: Gunicorn
) -> float | None:
    """Server CPU milliseconds per request of one page type, ``concurrency`` at a time.

    One type at a time, so that gunicorn's CPU is that page's alone; errors are recorded by the
    browsers and the measurement goes on.
    """

    def fetch(pair: tuple[Browser, str, str]) -> None:
        browser, label, path = pair
        browser.phase = "cpu probe"
        with contextlib.suppress(JourneyError):
            browser.get(label, path)

    before = gunicorn.cpu_seconds()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cpu-probe") as pool:
        list(pool.map(fetch, pairs))
    after = gunicorn.cpu_seconds()
    if before is None or after is None or not pairs:
        return None
    return (after - before) * 1000 / len(pairs)


def probe_pages(
    applicants: list[Applicant],
    pages: dict[str, str],
    *,
    base_url: str,
    args: argparse.Namespace,
    recorder: Recorder,
    gunicorn: Gunicorn,
) -> dict[str, float | None]:
    """CPU per request of ``GET /connexion/`` (anonymous browsers, as before signing in) and of
    each of ``pages`` (label -> path with ``{pk}``, each applicant on its own dossier)."""
    anonymous = [
        Browser(base_url, recorder, args.request_timeout, f"anonymous-{a.index}")
        for a in applicants
    ]
    results = {
        "GET /connexion/": cpu_per_request(
            [(b, "GET /connexion/ (probe)", "/connexion/") for b in anonymous],
            concurrency=args.concurrency,
            gunicorn=gunicorn,
        )
    }
    for label, path in pages.items():
        results[label] = cpu_per_request(
            [(a.browser, f"{label} (probe)", path.format(pk=a.pk)) for a in applicants],
            concurrency=args.concurrency,
            gunicorn=gunicorn,
        )
    return results
