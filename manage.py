#!/usr/bin/env python
import os
import sys

# makemigrations only reads models and writes migration files: it is a developer's command,
# never a production one. Run from a checkout with no configuration at all, it gets the
# development settings instead of stopping for want of SECRET_KEY. Every other command keeps
# the production-safe default (a cron line without its environment must fail loudly).
DEVELOPER_ONLY_COMMANDS = {"makemigrations"}
CONFIGURATION_VARIABLES = ("DEBUG", "SECRET_KEY", "DATABASE_URL")


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cerdd_ami.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in DEVELOPER_ONLY_COMMANDS and not any(
        name in os.environ for name in CONFIGURATION_VARIABLES
    ):
        os.environ["DEBUG"] = "1"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
