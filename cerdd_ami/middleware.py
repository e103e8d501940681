"""Requests PostgreSQL could not store are refused before any view reads them."""

from django.shortcuts import render

NUL = "\x00"
# The admin's « to field » parameter: Django looks an empty one up as a field named "" and
# answers 500 (FieldDoesNotExist) on every change and delete page, the admin's and axes' alike.
TO_FIELD_VAR = "_to_field"


def _has_nul(request) -> bool:
    if NUL in request.path:
        return True
    for key, values in request.GET.lists():
        if NUL in key or any(NUL in value for value in values):
            return True
    if request.method != "POST":
        return False
    # POST values are left to the forms, whose text fields refuse a NUL with a message beside
    # the field (Django's ProhibitNullCharactersValidator); names no field reads are not.
    if any(NUL in key for key in request.POST):
        return True
    return any(
        NUL in key or any(NUL in (upload.name or "") for upload in uploads)
        for key, uploads in request.FILES.lists()
    )


def _has_empty_to_field(request) -> bool:
    values = request.GET.getlist(TO_FIELD_VAR)
    if request.method == "POST":
        values += request.POST.getlist(TO_FIELD_VAR)
    return any(value == "" for value in values)


class RejectNulMiddleware:
    """A NUL character in the path, a query string, a posted field's name or an uploaded file's
    name answers 400 with a French page: PostgreSQL refuses NUL in text, and views and the
    admin read query strings (searches, filters, ``next``) straight into queries. So does an
    empty ``_to_field``, which the admin would turn into a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _has_nul(request):
            return render(request, "cerdd_ami/requete_refusee.html", status=400)
        if _has_empty_to_field(request):
            return render(request, "400.html", status=400)
        return self.get_response(request)
