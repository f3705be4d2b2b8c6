"""The incident service, one module per job.

* ``grouping``   — a relevant post becomes an incident or joins an open one;
* ``assignment`` — routing to an authority, rerouting, reclassification;
* ``due_dates``  — due times of the stages from the deadline rules;
* ``lifecycle``  — the state machine: transitions, answers, resolve/reject/reopen;
* ``review``     — merge, split and operators' decisions on posts;
* ``watch``      — reminders and escalations when deadlines fall due;
* ``replies``    — official accounts' replies counted as first replies;
* ``answer_review`` — a person's reading of an answer's quality (the classifier's is in ``lifecycle``);
* ``recipients`` — the region's authorities and who receives an escalation;
* ``common``     — errors, the event writer, the profile lookup.

Every function works inside the caller's session (one transaction) and takes
the clock as ``now``; see ``common`` and docs/incidents.md. The names below are
the public surface: import them from ``pipeline.incidents``.
"""

from .answer_review import review_answer
from .assignment import reclassify, reroute, route_incident
from .common import SYSTEM, IncidentError, TransitionError
from .grouping import (
    DEFAULT_GROUPING,
    GENERIC,
    AnalysisLike,
    GroupingOptions,
    address_list,
    content_lemmas,
    find_incident,
    ingest_analysis,
    similarity,
)
from .lifecycle import (
    ALLOWED,
    acknowledge,
    mark_fake,
    record_response,
    reject,
    reopen,
    resolve,
    transition,
)
from .recipients import escalation_recipient, sync_authorities
from .replies import detect_official_replies, official_account_ids, telegram_account_keys
from .review import apply_review, merge, split, undo_review
from .watch import Action, check_deadlines, watched_stage

__all__ = [
    "ALLOWED",
    "Action",
    "AnalysisLike",
    "DEFAULT_GROUPING",
    "GENERIC",
    "GroupingOptions",
    "IncidentError",
    "SYSTEM",
    "TransitionError",
    "acknowledge",
    "address_list",
    "apply_review",
    "undo_review",
    "check_deadlines",
    "content_lemmas",
    "detect_official_replies",
    "escalation_recipient",
    "find_incident",
    "ingest_analysis",
    "mark_fake",
    "merge",
    "official_account_ids",
    "reclassify",
    "record_response",
    "reject",
    "reopen",
    "reroute",
    "resolve",
    "review_answer",
    "route_incident",
    "similarity",
    "split",
    "sync_authorities",
    "telegram_account_keys",
    "transition",
    "watched_stage",
]
