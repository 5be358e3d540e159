"""Battery electrolyte screening, as a Python campaign (the same campaign as ../battery_screening/campaign.ts).

Iteration 0 screens every candidate electrolyte in parallel (one task each, ``screen.mjs``). A
candidate the model cannot make (salt above its solubility) fails; ``allowFailure`` keeps that
from failing the run. Iteration 1 runs one ``rank`` task that depends on every screening task and
receives their numbers as a staged ``screening.json``. Then the campaign is finished.

MatterStack runs this file with python3 once per call; ``plan`` and ``analyze`` are functions of
their input only (a call may be repeated after a crash).
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional

from matterstack_campaign import run

# EC:DMC blends of common lithium salts. E06 is deliberately beyond LiBOB's solubility.
CANDIDATES: List[Dict[str, Any]] = [
    {"id": "E01", "salt": "LiPF6", "concentration_M": 1.0, "ec_fraction": 0.3},
    {"id": "E02", "salt": "LiPF6", "concentration_M": 1.2, "ec_fraction": 0.5},
    {"id": "E03", "salt": "LiTFSI", "concentration_M": 1.0, "ec_fraction": 0.3},
    {"id": "E04", "salt": "LiFSI", "concentration_M": 1.5, "ec_fraction": 0.3},
    {"id": "E05", "salt": "LiFSI", "concentration_M": 4.0, "ec_fraction": 0.2},
    {"id": "E06", "salt": "LiBOB", "concentration_M": 1.6, "ec_fraction": 0.5},
]

# How much each property counts in the final score (sums to 1).
WEIGHTS = {"conductivity": 0.5, "oxidation": 0.3, "viscosity": 0.2}

SCREENED_FIELDS = ("conductivity_mS_cm", "oxidation_limit_V", "viscosity_cP", "dissociated_fraction")


def screen_task_id(candidate: Dict[str, Any]) -> str:
    return f"screen_{candidate['id']}"


def screen_task(candidate: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "id": screen_task_id(candidate),
        "command": ["node", "screen.mjs"],
        "files": {"screen.mjs": {"source": "scripts/screen.mjs"}, "candidate.json": json.dumps(candidate) + "\n"},
        "allowFailure": True,
        "timeLimitMinutes": 5,
    }


def rank_task(state: Dict[str, Any]) -> Dict[str, Any]:
    screening = {"screened": state["screened"], "failed": [f["id"] for f in state["failed"]], "weights": WEIGHTS}
    return {
        "id": "rank",
        "command": ["node", "rank.mjs"],
        "files": {"rank.mjs": {"source": "scripts/rank.mjs"}, "screening.json": json.dumps(screening, indent=2) + "\n"},
        # Provenance: the ranking is built from every screening task, failed ones included.
        "dependencies": [screen_task_id(c) for c in CANDIDATES],
        "allowDependencyFailure": True,
        "timeLimitMinutes": 5,
    }


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_screened(candidate_id: str, result: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The screening numbers of a completed task, or None when its output is missing or malformed."""
    if result is None or result.get("status") != "COMPLETED" or not isinstance(result.get("data"), dict):
        return None
    data = result["data"]
    if not all(is_number(data.get(field)) for field in SCREENED_FIELDS):
        return None
    return {"id": candidate_id, **{field: data[field] for field in SCREENED_FIELDS}}


def read_ranking(result: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    if result is None or result.get("status") != "COMPLETED" or not isinstance(result.get("data"), dict) or not isinstance(result["data"].get("ranking"), list):
        status = "missing" if result is None else result.get("status")
        raise RuntimeError(f"rank task did not produce a ranking (status {status})")
    data = result["data"]
    ranking = [
        {"rank": entry.get("rank"), "id": str(entry.get("id")), "score": entry.get("score"), "pareto": entry.get("pareto") is True}
        for entry in data["ranking"]
        if isinstance(entry, dict)
    ]
    best = data.get("best")
    return {"ranking": ranking, "best": best if isinstance(best, str) else None}


def plan(state: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if state is None:
        return {"tasks": [screen_task(c) for c in CANDIDATES]}
    if state["iteration"] == 1:
        return {"tasks": [rank_task(state)]}
    return None


def analyze(state: Optional[Dict[str, Any]], results: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    if state is None:
        screened: List[Dict[str, Any]] = []
        failed: List[Dict[str, Any]] = []
        for candidate in CANDIDATES:
            result = results.get(screen_task_id(candidate))
            values = read_screened(candidate["id"], result)
            if values is not None:
                screened.append(values)
            else:
                failed.append({"id": candidate["id"], "status": "MISSING" if result is None else result["status"]})
        return {"iteration": 1, "screened": screened, "failed": failed, "ranking": None, "best": None}
    return {**state, "iteration": 2, **read_ranking(results.get("rank"))}


if __name__ == "__main__":
    run(plan=plan, analyze=analyze)
