"""The vocabulary of the incident event log (``incident_events.kind``) and states.

Ratings and reports are computed from these events only, so the meaning of
each kind is fixed here and documented in docs/ratings.md.
"""

from __future__ import annotations

# incident states
NEW = "new"
ROUTED = "routed"
ACKNOWLEDGED = "acknowledged"
ANSWERED = "answered"
RESOLVED = "resolved"
REJECTED = "rejected"
REOPENED = "reopened"
STATES = (NEW, ROUTED, ACKNOWLEDGED, ANSWERED, RESOLVED, REJECTED, REOPENED)
#: Not closed (neither resolved nor rejected): what grouping joins and the lists call open.
OPEN_STATES = (NEW, ROUTED, ACKNOWLEDGED, ANSWERED, REOPENED)
#: Open and handed to an authority: its deadlines run and its answers are awaited.
ROUTED_OPEN_STATES = (ROUTED, ACKNOWLEDGED, ANSWERED, REOPENED)

# event kinds
CREATED = "created"  # incident made from a relevant post
POST_ADDED = "post_added"  # a near-duplicate post joined the incident; data: {post_id}
ROUTED_EV = "routed"  # assigned to an authority; authority_id set; data: {rule, due: {...}}
REROUTED = "rerouted"  # moved to another authority; data: {from_authority_id, reason}
ACKNOWLEDGED_EV = "acknowledged"  # the authority took it into work
ANSWER_FIRST = "answer_first_reply"  # first reply recorded; data: {response_id, channel}
ANSWER_INTERIM = "answer_interim"
ANSWER_FINAL = "answer_final"
RESOLVED_EV = "resolved"
REJECTED_EV = "rejected"  # not a problem / not ours; data: {reason}
REOPENED_EV = "reopened"  # the problem came back after resolution; data: {reason}
REMINDER = "reminder_sent"  # data: {stage, minutes_before}
ESCALATED = "escalated"  # data: {stage, level, role}
MERGED = "merged"  # this incident absorbed others; data: {from_incident_ids}
MERGED_INTO = "merged_into"  # this incident was merged into another; data: {into_incident_id}
SPLIT = "split"  # posts moved to a new incident; data: {post_ids, new_incident_id}
MARKED_FAKE = "marked_fake"  # data: {comment?, mark_id? (the confirmed «возможный фейк» mark)}
UNMARKED_FAKE = "unmarked_fake"  # the flag cleared: its mark dismissed; data: {comment, mark_id}
RECLASSIFIED = "reclassified"  # an operator changed sector/category/urgency; data: {from, to}
GRADED = "graded"  # a reviewer graded the quality of the answer; data: {grade 1..5}

# added by the incident service (issue 5A)
POST_REMOVED = "post_removed"  # a post left the incident (review: not a problem / moved); data: {post_id, reason}
REVIEW_UNDONE = "review_undone"  # an operator undid a review decision on a post; data: {decision_id, post_id, decision}

# answer quality (issue 15, part 2; docs/ratings.md «Качество ответов»)
#: An official answer read formulaic, refusal or rude: stored, but it does not close its stage;
#: the incident is flagged for the ЦУР head. data: {response_id, kind, channel, quality, confidence, cues}
ANSWER_FLAGGED = "answer_flagged"
#: A person's reading of an answer replaced the classifier's. data: {response_id, from, to, counted}
ANSWER_REVIEWED = "answer_reviewed"
