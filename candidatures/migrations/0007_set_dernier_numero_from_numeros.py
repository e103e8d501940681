from django.db import migrations


def set_dernier_numero_from_numeros(apps, schema_editor):
    """Start each appel's counter at the highest numeric suffix already given to its dossiers.

    The same reading as the scan the counter replaces (the digits after the last « - »), so
    the next submission gets the number the scan would have given.
    """
    Appel = apps.get_model("candidatures", "Appel")
    Candidature = apps.get_model("candidatures", "Candidature")
    highest = {}
    for appel_id, numero in (
        Candidature.objects.exclude(numero="").values_list("appel_id", "numero").iterator()
    ):
        suffix = numero.rsplit("-", 1)[-1]
        if suffix.isdigit():
            highest[appel_id] = max(highest.get(appel_id, 0), int(suffix))
    for appel_id, number in highest.items():
        Appel.objects.filter(pk=appel_id, dernier_numero__lt=number).update(dernier_numero=number)


class Migration(migrations.Migration):
    dependencies = [
        ("candidatures", "0006_appel_dernier_numero_depot_recu_optionnel"),
    ]

    operations = [
        migrations.RunPython(set_dernier_numero_from_numeros, migrations.RunPython.noop),
    ]
