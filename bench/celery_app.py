"""The bare Celery ceiling: a no-op task with FootCDS's own Celery settings, nothing else.

Built by ``services.worker.app.make_app`` (so serializer, acks_late, prefetch, result
expiry are the ones FootCDS runs with) but without the FootCDS task modules and on its own
queue, so its worker only ever runs the no-op.  ``python -m bench`` starts a worker for it
against the same Redis as the suite.
"""

from __future__ import annotations

from typing import Any

from services.worker.app import make_app

QUEUE = "footcds-bench"

app = make_app()
app.conf.update(include=[], task_default_queue=QUEUE)


@app.task(name="bench.noop")
def noop(value: Any = None) -> Any:
    """Returns its argument: a chain of these passes the value along like the stages do."""
    return value
