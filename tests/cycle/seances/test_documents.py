"""Documents shared on a séance's page (added in the admin, served to the participants
only)."""

import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cerdd_ami.permissions import sync_role_permissions
from cycle.models import DocumentSeance, Presence
from tests.candidatures.factories import tiny_pdf_bytes
from tests.cycle.factories import CycleFactory, ParticipantFactory
from tests.factories import UserFactory, charge_de_mission
from tests.utils import page_text

pytestmark = pytest.mark.django_db
P, A = Presence.Statut.PRESENT, Presence.Statut.ABSENT
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def staff(client):
    sync_role_permissions()
    user = charge_de_mission()
    client.force_login(user)
    return user


def add_document(seance, titre="Support de la matinée", content=b"%PDF-1.4 support", **kwargs):
    document = DocumentSeance(
        seance=seance,
        titre=titre,
        nom_original=kwargs.pop("nom_original", "support.pdf"),
        type_mime=kwargs.pop("type_mime", "application/pdf"),
        taille=len(content),
        **kwargs,
    )
    document.fichier.save(document.nom_original, ContentFile(content), save=False)
    document.save()
    return document


# -- the admin inline ---------------------------------------------------------------------------


def seance_change_post(client, seance, documents, *, delete=()):
    """The séance's change form as the admin shows it, with ``documents`` as new inline rows
    (a list of (titre, uploaded file)) and the existing rows of ``delete`` ticked « Supprimer »."""
    url = reverse("admin:cycle_seance_change", args=[seance.pk])
    response = client.get(url)
    form = response.context["adminform"].form
    data = {}
    for name in form.fields:
        if name == "note_contexte_fichier":
            continue
        value = form[name].value()
        if value is not None:
            data[name] = value
    formset = response.context["inline_admin_formsets"][0].formset
    prefix = formset.prefix
    initial = formset.initial_form_count()
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": initial + len(documents),
            f"{prefix}-INITIAL_FORMS": initial,
            f"{prefix}-MIN_NUM_FORMS": 0,
            f"{prefix}-MAX_NUM_FORMS": 1000,
        }
    )
    for index, existing in enumerate(formset.initial_forms):
        data[f"{prefix}-{index}-id"] = existing.instance.pk
        data[f"{prefix}-{index}-seance"] = seance.pk
        data[f"{prefix}-{index}-titre"] = existing.instance.titre
        if existing.instance in delete:
            data[f"{prefix}-{index}-DELETE"] = "on"
    for offset, (titre, uploaded) in enumerate(documents):
        index = initial + offset
        data[f"{prefix}-{index}-seance"] = seance.pk
        data[f"{prefix}-{index}-titre"] = titre
        data[f"{prefix}-{index}-fichier"] = uploaded
    return client.post(url, data)


def test_staff_add_documents_stored_under_an_unguessable_name(client, staff):
    seance = CycleFactory().seances.get(numero=2)

    response = seance_change_post(
        client,
        seance,
        [
            (
                "Support de la conférence",
                SimpleUploadedFile("Support conférence.PDF", tiny_pdf_bytes()),
            ),
            ("Photo du tableau", SimpleUploadedFile("tableau.png", PNG_BYTES)),
        ],
    )

    assert response.status_code == 302
    rows = list(
        DocumentSeance.objects.values_list(
            "seance_id", "titre", "nom_original", "type_mime", "taille", "added_by"
        )
    )
    assert rows == [
        (
            seance.pk,
            "Support de la conférence",
            "Support conférence.PDF",
            "application/pdf",
            len(tiny_pdf_bytes()),
            staff.pk,
        ),
        (seance.pk, "Photo du tableau", "tableau.png", "image/png", len(PNG_BYTES), staff.pk),
    ]
    names = list(DocumentSeance.objects.values_list("fichier", flat=True))
    stored = re.compile(rf"seances/{seance.pk}/[\w-]{{32}}\.(pdf|png)")
    assert [stored.fullmatch(name).group(1) for name in names] == ["pdf", "png"]
    document = DocumentSeance.objects.get(titre="Support de la conférence")
    # The change page links to the admin's download view, named by the original name.
    page = page_text(client.get(reverse("admin:cycle_seance_change", args=[seance.pk])))
    assert f'<a href="{document.get_admin_url()}">Support conférence.PDF</a>' in page
    download = client.get(document.get_admin_url())
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == tiny_pdf_bytes()
    assert download["Content-Type"] == "application/pdf"
    assert download["Cache-Control"] == "private, no-store, max-age=0, no-cache, must-revalidate"


def test_s3_document_added_in_the_admin_is_served_from_the_bucket_and_deleted_with_its_row(
    client, staff, s3_storage, django_capture_on_commit_callbacks
):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    seance = participant.cycle.seances.get(numero=2)
    pdf = tiny_pdf_bytes("Support de la conférence")
    dossier_files = s3_storage.objects()  # the participant's dossier

    added = seance_change_post(
        client, seance, [("Support", SimpleUploadedFile("Support.pdf", pdf))]
    )

    document = DocumentSeance.objects.get()
    assert added.status_code == 302
    assert s3_storage.objects() == {**dossier_files, document.fichier.name: pdf}
    staff_download = client.get(document.get_admin_url())
    assert b"".join(staff_download.streaming_content) == pdf
    url = reverse("cycle:document_seance", args=[participant.pk, 2, document.pk])
    client.force_login(referent)
    assert b"".join(client.get(url).streaming_content) == pdf
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404

    client.force_login(staff)
    with django_capture_on_commit_callbacks(execute=True):
        deleted = seance_change_post(client, seance, [], delete=[document])

    assert deleted.status_code == 302
    assert (DocumentSeance.objects.count(), s3_storage.objects()) == (0, dossier_files)


def test_a_disguised_file_is_refused_and_nothing_is_stored(client, staff):
    seance = CycleFactory().seances.get(numero=2)

    response = seance_change_post(
        client,
        seance,
        [("Programme", SimpleUploadedFile("programme.pdf", b"MZ\x90\x00 not a document"))],
    )

    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.errors
    assert errors == [
        {
            "fichier": [
                "Le contenu de ce fichier n'est pas un document PDF, DOC, DOCX, ODT, PNG, "
                "JPEG, quel que soit son nom."
            ]
        }
    ]
    assert DocumentSeance.objects.count() == 0


def test_admin_download_needs_the_view_permissions(client):
    document = add_document(CycleFactory().seances.get(numero=1))
    client.force_login(UserFactory(is_staff=True))
    assert client.get(document.get_admin_url()).status_code == 403


# -- the participant's séance page --------------------------------------------------------------


def test_seance_page_lists_the_documents_served_to_participants_only(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    other = ParticipantFactory(cycle=participant.cycle, createur=UserFactory())
    seance = participant.cycle.seances.get(numero=2)
    first = add_document(seance, "Support de la matinée", b"%PDF-1.4 " + b"x" * 2039)
    second = add_document(
        seance,
        "Photo du tableau",
        PNG_BYTES,
        nom_original="tableau.png",
        type_mime="image/png",
    )
    elsewhere = add_document(participant.cycle.seances.get(numero=3), "Autre séance")
    client.force_login(referent)

    page = page_text(client.get(reverse("cycle:seance", args=[participant.pk, 2])))

    items = re.findall(r'<ul class="documents">\s*(.*?)\s*</ul>', page)[0]
    url = reverse("cycle:document_seance", args=[participant.pk, 2, first.pk])
    url2 = reverse("cycle:document_seance", args=[participant.pk, 2, second.pk])
    assert re.findall(r"<li>(.*?)</li>", items) == [
        f'<a href="{url}">Support de la matinée</a> (support.pdf, 2,0 Kio)',
        f'<a href="{url2}">Photo du tableau</a> (tableau.png, 72 octets)',
    ]
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.4 " + b"x" * 2039
    assert response["Content-Disposition"] == 'attachment; filename="support.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    # Another participation, another séance's document, a non-participant, anonymous: 404/302.
    assert (
        client.get(reverse("cycle:document_seance", args=[other.pk, 2, first.pk])).status_code
        == 404
    )
    assert (
        client.get(
            reverse("cycle:document_seance", args=[participant.pk, 2, elsewhere.pk])
        ).status_code
        == 404
    )
    client.force_login(UserFactory())
    assert client.get(url).status_code == 404
    client.logout()
    assert client.get(url).status_code == 302
    assert (
        page_text(client.get(reverse("cycle:seance", args=[participant.pk, 4]))).count("documents")
        == 0
    )


def test_seance_without_documents_says_so(client):
    referent = UserFactory()
    participant = ParticipantFactory(createur=referent)
    client.force_login(referent)
    page = page_text(client.get(reverse("cycle:seance", args=[participant.pk, 4])))
    section = re.findall(
        r'<h2 id="documents-titre" class="h5">Documents</h2>\s*(.*?)\s*</section>', page
    )
    assert section == ["<p>Aucun document pour cette séance pour le moment.</p>"]
