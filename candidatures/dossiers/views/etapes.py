"""The steps of the application journey: the collectivité's contact details and référent·es
(fixed), the call's questionnaire steps (built from its questions), then the commitments and
the deposit. Steps are numbered 1, 2, 3… in this order; the last one is the deposit's."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from candidatures.dossiers import services, submission
from candidatures.questionnaires.forms import QuestionnaireForm

from ..answers import review
from ..forms import ENGAGEMENTS_TITLE, FIXED_STEP_FORMS, FIXED_STEP_TITLES, EngagementsForm
from ..models import Candidature
from .dossier import _dossier, _error_messages

TO_CORRECT = "Certaines réponses sont à corriger : voir les messages sous les champs."
UNREADABLE_UPLOAD = (
    "Le fichier envoyé n'a pas pu être lu : son nom contient sans doute des caractères "
    "invalides. Renommez-le puis choisissez-le à nouveau ; rien n'a été joint."
)


class Journey:
    """A dossier's steps: numbers, titles, and the call's questionnaire (one query)."""

    def __init__(self, candidature):
        self.questionnaire = candidature.read_questionnaire()
        self.last = candidature.engagements_step(self.questionnaire)
        self.titles = {
            **FIXED_STEP_TITLES,
            **{number: etape.titre for number, etape, _questions in self.questionnaire},
            self.last: ENGAGEMENTS_TITLE,
        }

    def etape(self, number):
        for step, etape, questions in self.questionnaire:
            if step == number:
                return etape, questions
        return None, None

    def step_of_question(self, question_id):
        for step, _etape, questions in self.questionnaire:
            if any(question.pk == question_id for question in questions):
                return step
        return self.last


def _step_context(candidature, journey, step, **extra):
    return {
        "candidature": candidature,
        "step": step,
        "steps": journey.titles,
        "step_title": journey.titles[step],
        "last_step": journey.last,
        "editable": candidature.is_editable(),
        "previous_step": step - 1 if step > 1 else None,
        "next_step": step + 1 if step < journey.last else None,
        **extra,
    }


def _locked_message(candidature):
    if candidature.est_deposee and candidature.accepts_changes():
        return "Ce dossier est déposé : rouvrez-le pour le modifier."
    return "La date limite est passée : ce dossier ne peut plus être modifié."


@login_required
def step(request, pk, step):
    candidature = _dossier(request, pk)
    journey = Journey(candidature)
    if step not in journey.titles:
        raise Http404
    etape, questions = journey.etape(step)
    editable = candidature.is_editable()
    if request.method == "POST":
        if not editable and "deposer" in request.POST and candidature.est_deposee:
            # The second click of a double click: the first one deposited.
            messages.info(request, "Ce dossier est déjà déposé.")
            return redirect(candidature)
        if not editable:
            messages.error(request, _locked_message(candidature))
            return redirect("candidatures:etape", pk=pk, step=step)
    if etape is not None:
        return _questionnaire_step(request, candidature, journey, step, etape, questions)
    form_class = FIXED_STEP_FORMS.get(step, EngagementsForm)
    if request.method == "POST":
        form = form_class(request.POST, instance=candidature)
        if form.is_valid():
            # Saved first, deposit or not: a box ticked before « Déposer » is never lost.
            form.save()
            if step == journey.last and "deposer" in request.POST:
                return _deposit(request, candidature, form=form, journey=journey)
            messages.success(request, "Brouillon enregistré.")
            if "continuer" in request.POST and step < journey.last:
                return redirect("candidatures:etape", pk=pk, step=step + 1)
            return redirect("candidatures:etape", pk=pk, step=step)
        messages.error(request, TO_CORRECT)
    else:
        form = form_class(instance=candidature)
    return _render_step(request, candidature, journey, step, form)


def _render_step(request, candidature, journey, step, form, **extra):
    if not candidature.is_editable():
        for field in form.fields.values():
            field.disabled = True
    extra["form"] = form
    if step == journey.last:
        # One read of the answers and pieces for both the missing items and the review. The
        # boxes of this page speak for themselves (errors beside them): the box lists the
        # other steps only.
        candidature.read_answers()
        extra["missing"] = [
            item
            for item in candidature.missing_items(journey.questionnaire)
            if item[0] != journey.last
        ]
        extra["questionnaire"] = review(candidature, journey.questionnaire)
    return render(
        request, "candidatures/etape.html", _step_context(candidature, journey, step, **extra)
    )


def _questionnaire_step(request, candidature, journey, step, etape, questions):
    candidature.read_answers()
    valeurs = candidature.valeurs()  # the form takes its own questions' answers
    if request.method == "POST" and _unreadable_upload(request):
        form = QuestionnaireForm(
            request.POST, request.FILES, etape=etape, questions=questions, valeurs=valeurs
        )
        form.is_valid()
        form.add_error(None, UNREADABLE_UPLOAD)
        messages.error(request, TO_CORRECT)
    elif request.method == "POST":
        form = QuestionnaireForm(
            request.POST, request.FILES, etape=etape, questions=questions, valeurs=valeurs
        )
        if form.is_valid():
            try:
                services.save_answers(candidature=candidature, answers=form.answers())
            except ValidationError as error:
                for message in _error_messages(error):
                    messages.error(request, message)
                return redirect("candidatures:etape", pk=candidature.pk, step=step)
            if _attach_uploads(request, candidature, form):
                messages.success(request, "Brouillon enregistré.")
                if "continuer" in request.POST:
                    return redirect("candidatures:etape", pk=candidature.pk, step=step + 1)
                return redirect("candidatures:etape", pk=candidature.pk, step=step)
        messages.error(request, TO_CORRECT)
    else:
        form = QuestionnaireForm(etape=etape, questions=questions, valeurs=valeurs)
    file_questions = [question for question in questions if question.est_fichier]
    pieces, all_pieces = [], []
    if file_questions:
        if request.method == "POST":
            candidature.read_answers()  # with what this request attached
        # The step's table and the dossier's total size from one read (upload order): the
        # step's pieces in question order, then upload order.
        all_pieces = candidature.pieces_list()
        for question in file_questions:
            for piece in all_pieces:
                if piece.question_id == question.pk:
                    piece.question = question
                    pieces.append(piece)
    missing_files = [
        question
        for question in file_questions
        if question.obligatoire and not any(piece.question_id == question.pk for piece in pieces)
    ]
    return _render_step(
        request,
        candidature,
        journey,
        step,
        form,
        etape=etape,
        has_files=bool(file_questions),
        pieces=pieces,
        total_bytes=sum(piece.taille for piece in all_pieces) if pieces else 0,
        missing_files=missing_files,
    )


def _unreadable_upload(request) -> bool:
    """A multipart body of which nothing could be read: Django's parser drops a file part
    whose name is not valid UTF-8, and with it the whole form. Saving « nothing » would let
    the applicant believe the file was joined."""
    return (
        request.content_type == "multipart/form-data"
        and int(request.META.get("CONTENT_LENGTH") or 0) > 0
        and not request.POST
        and not request.FILES
    )


def _attach_uploads(request, candidature, form) -> bool:
    """Attach the step's uploaded files; False when one was refused (error beside it)."""
    attached = True
    for question, uploads in form.uploads().items():
        for uploaded in uploads:
            try:
                piece = services.add_piece(
                    candidature=candidature,
                    user=request.user,
                    question=question,
                    uploaded_file=uploaded,
                )
            except ValidationError as error:
                form.add_error(question.code, error)
                attached = False
            else:
                messages.success(request, f"« {piece.nom_original} » est joint au dossier.")
    return attached


@login_required
@require_POST
def delete_piece(request, pk, piece_pk):
    candidature = _dossier(request, pk)
    piece = get_object_or_404(candidature.pieces, pk=piece_pk)
    try:
        services.delete_piece(piece=piece, user=request.user)
    except ValidationError as error:
        for message in _error_messages(error):
            messages.error(request, message)
    else:
        messages.success(request, f"« {piece.nom_original} » est retiré du dossier.")
    step_number = Journey(candidature).step_of_question(piece.question_id)
    return redirect("candidatures:etape", pk=pk, step=step_number)


@login_required
@require_POST
def submit(request, pk):
    candidature = _dossier(request, pk)
    return _deposit(request, candidature)


def _deposit(request, candidature, *, journey=None, form=None):
    """Submit through the service; with the last step's ``form`` (already saved), a refusal
    for unticked commitments comes back on that page, each message beside its box. The
    ``journey`` is read only when the deposit is refused (a deposit reads nothing twice)."""
    try:
        depot = submission.submit_candidature(candidature=candidature, user=request.user)
    except submission.AlreadySubmitted:
        messages.info(request, "Ce dossier est déjà déposé.")
        return redirect(candidature)
    except submission.IncompleteCandidature as incomplete:
        journey = journey or Journey(candidature)
        if form is None:
            for message in _error_messages(incomplete):
                messages.error(request, message)
            return redirect("candidatures:etape", pk=candidature.pk, step=journey.last)
        fields = {message: field for field, message in Candidature.ENGAGEMENTS.items()}
        for step_number, message in incomplete.missing:
            if step_number == journey.last:
                form.add_error(fields[message], message)
        messages.error(request, "Le dossier n'est pas encore déposé : voir ci-dessous.")
        return _render_step(request, candidature, journey, journey.last, form)
    except ValidationError as error:
        for message in _error_messages(error):
            messages.error(request, message)
        journey = journey or Journey(candidature)
        return redirect("candidatures:etape", pk=candidature.pk, step=journey.last)
    # Issued by a background task: with the immediate backend (tests, TASKS_BACKEND=immediate)
    # it already ran on commit; with the worker it is usually still to come.
    depot.refresh_from_db(fields=["recu_envoye_at"])
    if depot.recu_envoye_at:
        receipt_news = "Un accusé de réception a été envoyé aux référent·es."
    else:
        receipt_news = (
            "L'accusé de réception est en préparation : il sera envoyé aux référent·es par e-mail."
        )
    messages.success(
        request,
        f"Votre candidature est déposée sous le numéro {candidature.numero}. {receipt_news}",
    )
    return redirect(candidature)
