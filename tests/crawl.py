"""A crawler over the seeded demo, shared by the crawl guard (Django's test client) and its
accessibility sample (Chromium): follow every same-site link a role can reach, GET only."""

import html
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urldefrag, urlencode, urljoin, urlsplit

from django.contrib.auth.models import Group

from candidatures.models import Appel
from cerdd_ami import roles
from cerdd_ami.models import User
from cycle.models import Participant

MAX_PAGES = 300
# Sorting and filtering links multiply one page by its parameters: a few variants say enough.
MAX_VARIANTS_PER_PATH = 2
# An admin list of thousands of collectivités must not eat the budget of the other models.
MAX_PAGES_PER_SECTION = 30
# The admin carries the list's filters along to each object's page: the same page again.
IGNORED_PARAMETERS = ("_changelist_filters", "_facets")
# Links that end the session or sign someone in: following them would change who is crawling.
SKIPPED_PATHS = ("/admin/logout/", "/deconnexion/", "/connexion/lien/")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def same_site_links(base: str, page: str) -> list[str]:
    """The site's own pages linked from ``page`` (HTML found at ``base``), without fragments."""
    parser = _Links()
    parser.feed(page)
    links = []
    for href in parser.hrefs:
        url = urldefrag(urljoin(base, href)).url
        parts = urlsplit(url)
        if parts.scheme in ("", "http") and parts.netloc in ("", "testserver"):
            query = urlencode(
                [
                    (k, v)
                    for k, v in parse_qsl(parts.query, keep_blank_values=True)
                    if k not in IGNORED_PARAMETERS
                ]
            )
            links.append(parts.path + (f"?{query}" if query else ""))
    return links


@dataclass
class Crawl:
    pages: dict[str, int] = field(default_factory=dict)  # url → status
    html_pages: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)

    def errors(self) -> dict[str, int]:
        """Server errors, and links the site shows that lead nowhere (404)."""
        return {url: status for url, status in self.pages.items() if status >= 500 or status == 404}


def crawl(client, starts, *, limit=MAX_PAGES) -> Crawl:
    """Breadth first from ``starts``: each page fetched once with GET; links read from HTML
    pages only (PDF, XLSX, ICS are fetched, not parsed); static files are not pages."""
    result = Crawl()
    queue = deque(starts)
    seen = set(starts)
    variants: dict[str, int] = {}
    sections: dict[str, int] = {}
    while queue and len(result.pages) < limit:
        url = queue.popleft()
        response = client.get(url)
        result.pages[url] = response.status_code
        if response.status_code in (301, 302, 303, 307, 308):
            links = same_site_links(url, f'<a href="{html.escape(response["Location"])}">')
        elif response.get("Content-Type", "").startswith("text/html"):
            result.html_pages.append(url)
            links = same_site_links(url, response.content.decode())
        else:
            result.downloads.append(url)
            continue
        for link in links:
            path = urlsplit(link).path
            if link in seen or path.startswith(("/static/", "/media/")) or path in SKIPPED_PATHS:
                continue
            seen.add(link)
            if "?" in link:
                variants[path] = variants.get(path, 0) + 1
                if variants[path] > MAX_VARIANTS_PER_PATH:
                    continue
            section = "/".join(path.split("/")[:4])
            sections[section] = sections.get(section, 0) + 1
            if sections[section] > MAX_PAGES_PER_SECTION:
                continue
            queue.append(link)
    return result


def demo_people() -> dict[str, tuple[User | None, list[str]]]:
    """Who crawls the demo and from where: each role with its landing pages."""
    participant = Participant.objects.order_by("candidature__numero").first()
    participant_user = participant.candidature.acces.order_by("pk").first().user
    recent = Appel.objects.scoring_open().get()  # the demo call being scored
    applicant = (
        User.objects.filter(acces_candidatures__candidature__appel=recent)
        .filter(acces_candidatures__candidature__numero__gt="")
        .order_by("pk")
        .first()
    )
    return {
        "anonyme": (None, ["/"]),
        "candidat·e": (applicant, ["/"]),
        "jury": (User.objects.get(email="jury1@cerdd.test"), ["/", "/admin/"]),
        "chargé·e de mission": (User.objects.get(email="charge@cerdd.test"), ["/", "/admin/"]),
        "participant·e": (participant_user, ["/"]),
    }


def assert_demo_roles(people):
    applicant, participant = people["candidat·e"][0], people["participant·e"][0]
    assert applicant is not None
    assert applicant.acces_candidatures.exists()
    assert Participant.objects.of_user(participant).exists()
    assert not Participant.objects.of_user(applicant).exists()
    jury = Group.objects.get(name=roles.JURY)
    assert people["jury"][0].groups.get() == jury
