"""The app's task library: the paper's six tasks plus tasks a user types in a session.

Every task is a ``taskvec.data.tasks.TaskData`` with its own val/test split (a typed task:
the stable hash split), so the app's views read tasks exactly as the CLIs do.
"""

from __future__ import annotations

from functools import lru_cache

from taskvec.data.tasks import TaskData, paper_tasks as _paper_tasks, task_from_pairs
from taskvec.errors import SpecError

MAX_USER_TASKS = 20  # per session: a bound on what one visitor can keep in memory
MAX_NAME = 60  # characters of a task name (it is shown in pickers and tables)


@lru_cache(maxsize=1)
def _cached() -> tuple:
    return tuple(_paper_tasks())


def paper_tasks() -> list[TaskData]:
    """The six paper tasks (loaded once per process; a missing or broken file raises, naming it)."""
    return list(_cached())


def user_task(name: str, examples_text: str, instruction: str = "", task_token: str = "") -> TaskData:
    """A task typed by the user (one 'x : y' per line), split by the stable hash rule."""
    name = (name or "").strip()
    if not name:
        raise SpecError("Give the new task a name, e.g. 'antonyms'.")
    if len(name) > MAX_NAME:
        raise SpecError(f"A task name is at most {MAX_NAME} characters; this one has {len(name)}.")
    if name in {t.id for t in paper_tasks()}:
        raise SpecError(f"{name!r} is a paper task; give your task another name.")
    from taskvec.app.inputs import text_examples  # bounded: at most inputs.MAX_EXAMPLES lines

    pairs = text_examples(examples_text or "").pairs
    if len(pairs) < 4:
        raise SpecError(f"A task needs at least 4 examples (some become queries, the rest the examples); got {len(pairs)}.")
    return task_from_pairs(name, pairs, domain="user", instruction=(instruction or "").strip(),
                           task_token=(task_token or "").strip() or name)
