"""The web application's old import point for its SQL; the SQL itself lives per entity.

``storage.paging`` (keyset pages), ``storage.reads`` (scoped incident reads),
``storage.analyses`` (review queue, analyses), ``storage.dashboards``,
``storage.accounts`` (users, tokens, audit), ``storage.incidents``
(incidents, authorities), ``storage.posts``, ``storage.models_registry``.
New code imports those; this module only re-exports them under the names the
web application uses.
"""

from __future__ import annotations

from .accounts import (
    AUDIT_KEYS,
    TOKEN_KEYS,
    USER_KEYS,
    TokenUse,
    active_admin_ids,
    add_api_token,
    add_user,
    api_token,
    api_token_page,
    api_tokens,
    audit,
    audit_about,
    audit_page,
    audit_times,
    count_audit,
    end_sessions,
    idempotent_answer,
    list_users,
    record_login,
    revoke_api_token,
    set_password,
    store_idempotent_answer,
    token_for_api,
    touch_api_token,
    user_by_id,
    user_by_login,
    user_for_update,
    user_page,
)
from .analyses import (
    QueueEntry,
    add_analysis,
    latest_analyses,
    post_with_analysis,
    review_decisions,
    review_queue_entries,
    review_rows,
)
from .dashboards import (
    incident_counts,
    incident_created_times,
    municipality_sector_counts,
    problem_post_counts_by_source,
    sector_category_counts,
)
from .events import OPEN_STATES
from .incidents import (
    authorities,
    authority_by_code,
    authority_names,
    busiest_authority,
    incident_of_post,
)
from .incidents import events_of as incident_events
from .incidents import responses_of as incident_responses
from .models_registry import model_version, model_versions
from .paging import BadCursor, Key, Page, keyset_page, nulls_last
from .posts import find_post as post_by_key
from .reads import (
    INCIDENT_ORDERS,
    NotFound,
    OutOfScope,
    Scope,
    incident_assignments,
    incident_page,
    incident_posts,
    scoped_incident,
)

__all__ = [
    "AUDIT_KEYS",
    "BadCursor",
    "INCIDENT_ORDERS",
    "Key",
    "NotFound",
    "OPEN_STATES",
    "OutOfScope",
    "Page",
    "QueueEntry",
    "Scope",
    "TOKEN_KEYS",
    "TokenUse",
    "USER_KEYS",
    "active_admin_ids",
    "add_analysis",
    "add_api_token",
    "add_user",
    "api_token",
    "api_token_page",
    "api_tokens",
    "audit",
    "audit_about",
    "audit_page",
    "audit_times",
    "authorities",
    "authority_by_code",
    "authority_names",
    "busiest_authority",
    "count_audit",
    "end_sessions",
    "idempotent_answer",
    "incident_assignments",
    "incident_counts",
    "incident_created_times",
    "incident_events",
    "incident_of_post",
    "incident_page",
    "incident_posts",
    "incident_responses",
    "keyset_page",
    "latest_analyses",
    "list_users",
    "model_version",
    "model_versions",
    "municipality_sector_counts",
    "nulls_last",
    "post_by_key",
    "post_with_analysis",
    "problem_post_counts_by_source",
    "record_login",
    "review_decisions",
    "review_queue_entries",
    "review_rows",
    "revoke_api_token",
    "scoped_incident",
    "sector_category_counts",
    "set_password",
    "store_idempotent_answer",
    "token_for_api",
    "touch_api_token",
    "user_by_id",
    "user_by_login",
    "user_for_update",
    "user_page",
]
