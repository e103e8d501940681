"""Runs one workflow in a process of its own and SIGKILLs it at a chosen point (tests only).

    python -m tests.fault_hooks '{"action": "submit", "candidature": 1, "user": 2}'

The process is killed at a library boundary, never inside the project's code:
``FAULT_KILL=sql:<fragment>`` before the first SQL statement containing the fragment runs
(Django's execute_wrapper), ``FAULT_KILL=pdf`` when WeasyPrint writes a PDF,
``FAULT_KILL=mail:<n>`` when the n-th e-mail is handed to the mail server. E-mails are
delivered as one JSON file per message into ``FAULT_MAIL_DIR``: the "mail server" outlives
the killed process, as a real one would.
"""

import json
import os
import signal
import sys
from contextlib import nullcontext
from pathlib import Path

import django
from django.core.mail.backends.base import BaseEmailBackend


def die():
    os.kill(os.getpid(), signal.SIGKILL)


class FileMailBackend(BaseEmailBackend):
    def send_messages(self, messages):
        directory = Path(os.environ["FAULT_MAIL_DIR"])
        kill = os.environ.get("FAULT_KILL", "")
        for message in messages:
            number = len(list(directory.iterdir())) + 1
            if kill == f"mail:{number}":
                die()
            record = {
                "to": message.to,
                "subject": message.subject,
                "attachments": [attachment[0] for attachment in message.attachments],
            }
            (directory / f"{number:03d}.json").write_text(json.dumps(record))
        return len(messages)


def delivered(directory: Path) -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(directory.iterdir())]


def main(spec: dict) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerdd_ami.settings")
    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    settings.MAILERS = {"default": {"BACKEND": "tests.fault_hooks.FileMailBackend"}}
    kill = os.environ.get("FAULT_KILL", "")
    if kill == "pdf":
        import weasyprint

        weasyprint.HTML.write_pdf = lambda *args, **kwargs: die()

    def execute(run, sql, params, many, context):
        if kill.startswith("sql:") and kill[4:] in sql:
            die()
        return run(sql, params, many, context)

    with connection.execute_wrapper(execute) if kill.startswith("sql:") else nullcontext():
        if spec["action"] == "submit":
            from candidatures.dossiers import submission
            from candidatures.models import Candidature
            from cerdd_ami.models import User

            submission.submit_candidature(
                candidature=Candidature.objects.get(pk=spec["candidature"]),
                user=User.objects.get(pk=spec["user"]),
            )
        elif spec["action"] == "publish":
            call_command("publier_decisions", "--appel", spec["appel"])
        elif spec["action"] == "journal":
            from cerdd_ami.models import User
            from cycle.journal.services import write_entry
            from cycle.models import Participant

            write_entry(
                participant=Participant.objects.get(pk=spec["participant"]),
                auteur=User.objects.get(pk=spec["user"]),
                seance=None,
                points_forts=spec["texte"],
            )
        elif spec["action"] == "decide":
            from candidatures.decisions import services as decisions_services
            from candidatures.models import Candidature
            from cerdd_ami.models import User

            decisions_services.decide(
                candidature=Candidature.objects.get(pk=spec["candidature"]),
                issue=spec["issue"],
                motivation=spec["motivation"],
                staff_user=User.objects.get(pk=spec["user"]),
            )


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
