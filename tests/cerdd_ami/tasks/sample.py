"""Tasks for the worker's tests: their effects are lines in a file the test reads."""

import time
from pathlib import Path

from cerdd_ami.tasks import background


@background("Tâche d'essai : note une ligne")
def note(path: str, line: str) -> str:
    with open(path, "a") as handle:
        handle.write(line + "\n")
    return line


@background("Tâche d'essai : échoue toujours")
def fail(message: str) -> None:
    raise RuntimeError(message)


@background("Tâche d'essai : commence, attend le feu vert, finit")
def start_wait_finish(path: str) -> str:
    """Writes « début », waits for ``<path>.go`` (at most 60 s), then writes « fin »."""
    with open(path, "a") as handle:
        handle.write("début\n")
    go = Path(path + ".go")
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("pas de feu vert")
        time.sleep(0.05)
    with open(path, "a") as handle:
        handle.write("fin\n")
    return "fin"
