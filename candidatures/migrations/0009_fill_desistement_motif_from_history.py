from django.db import migrations

REASON_PREFIX = "Désistement : "
UNKNOWN_REASON = "Motif non conservé (désistement enregistré avant que le motif ne le soit)."


def fill_desistement_motif_from_history(apps, schema_editor):
    """Withdrawals recorded before the field kept their reason only as the history row's
    change reason, « Désistement : <motif> » cut to 100 characters: copy it back."""
    Decision = apps.get_model("candidatures", "Decision")
    HistoricalDecision = apps.get_model("candidatures", "HistoricalDecision")
    for decision in Decision.objects.filter(desistement_at__isnull=False, desistement_motif=""):
        reason = (
            HistoricalDecision.objects.filter(
                id=decision.pk, history_change_reason__startswith=REASON_PREFIX
            )
            .order_by("-history_date")
            .values_list("history_change_reason", flat=True)
            .first()
        )
        decision.desistement_motif = reason[len(REASON_PREFIX) :] if reason else UNKNOWN_REASON
        decision.save(update_fields=["desistement_motif"])


class Migration(migrations.Migration):
    dependencies = [
        ("candidatures", "0008_decision_desistement_motif"),
    ]

    operations = [
        migrations.RunPython(fill_desistement_motif_from_history, migrations.RunPython.noop),
    ]
