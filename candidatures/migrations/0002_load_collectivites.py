from django.db import migrations


def load(apps, schema_editor):
    from candidatures.appels.collectivites import import_collectivites

    import_collectivites(apps.get_model("candidatures", "Collectivite"))


def unload(apps, schema_editor):
    apps.get_model("candidatures", "Collectivite").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("candidatures", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
