"""MatterStack campaign helper: write ``plan`` and ``analyze`` as plain functions, call ``run``.

    from matterstack_campaign import run

    def plan(state):            # the next workflow {"tasks": [...]}, or None when finished
        ...
    def analyze(state, results):  # the new (JSON) state from the finished workflow's results
        ...

    if __name__ == "__main__":
        run(plan=plan, analyze=analyze)

The orchestrator starts the campaign once per call with this folder on PYTHONPATH, writes one
request on stdin ({"id", "method": "load" | "plan" | "analyze", "state", "results", "runId",
"iteration"}) and reads one reply on stdout ({"id", "ok": true, "value"}). An exception exits
with code 1 and its traceback on stderr: its last lines become the run's failure reason.
``print`` inside plan/analyze goes to stderr, so it never corrupts the reply.
Standard library only; Python 3.9+.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, NoReturn, Optional, TextIO

Json = Any
"""A JSON value: dict, list, str, int, float, bool or None."""
Plan = Callable[[Json], Optional[Dict[str, Any]]]
Analyze = Callable[[Json, Dict[str, Dict[str, Any]]], Json]

EXIT_BAD_REQUEST = 2
"""Exit code when stdin does not hold a request of the protocol (a bug of the caller, not the campaign)."""
_PARENT_POLL_SECONDS = 0.5


def _to_json(value: Any) -> Any:
    """Lets numpy arrays and scalars (anything with ``tolist``) through as plain JSON."""
    to_list = getattr(value, "tolist", None)
    if callable(to_list):
        return to_list()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _read_request(stream: TextIO) -> Dict[str, Any]:
    """The request on stdin, or exit EXIT_BAD_REQUEST saying what is wrong with it."""
    try:
        request = json.load(stream)
    except ValueError as error:
        _refuse(f"stdin is not a JSON request: {error}")
    if not isinstance(request, dict) or not isinstance(request.get("id"), int):
        _refuse('the request must be a JSON object with an integer "id"')
    if request.get("method") not in ("load", "plan", "analyze"):
        _refuse(f"unknown method {request.get('method')!r} (expected load, plan or analyze)")
    return request


def _refuse(message: str) -> NoReturn:
    sys.stderr.write(f"matterstack_campaign: {message}\n")
    sys.exit(EXIT_BAD_REQUEST)


def _exit_with_parent() -> None:
    """Ends this process when the orchestrator that started it dies (kill -9): it would redo the call anyway."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(_PARENT_POLL_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="matterstack-parent-watch", daemon=True).start()


def answer(request: Dict[str, Any], plan: Plan, analyze: Analyze, max_iterations: Optional[int] = None) -> Dict[str, Any]:
    """The reply to one request (exceptions of plan/analyze propagate)."""
    method = request["method"]
    if method == "load":
        value: Json = {} if max_iterations is None else {"maxIterations": max_iterations}
    elif method == "plan":
        value = plan(request.get("state"))
    else:
        value = analyze(request.get("state"), request.get("results") or {})
    return {"id": request["id"], "ok": True, "value": value}


def run(plan: Plan, analyze: Analyze, max_iterations: Optional[int] = None) -> None:
    """Answers the request on stdin with ``plan`` or ``analyze`` and writes the reply on stdout.

    ``max_iterations`` caps how many workflows the run may plan (default: the orchestrator's 1,000).
    """
    request = _read_request(sys.stdin)
    reply_stream = sys.stdout
    # User output must not land in the reply: stdout carries only the JSON document.
    sys.stdout = sys.stderr
    _exit_with_parent()
    reply = answer(request, plan, analyze, max_iterations)
    text = json.dumps(reply, allow_nan=False, default=_to_json)
    reply_stream.write(text)
    reply_stream.write("\n")
    reply_stream.flush()
