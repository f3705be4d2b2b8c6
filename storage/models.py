"""SQLAlchemy 2.0 typed models: the whole schema of ЦУР Монитор.

Changing a model means adding an Alembic migration in
``storage/migrations/versions`` (``cur db revision -m "..."`` generates one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from .types import JSONType, UTCDateTime, utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


# --------------------------------------------------------------------------- collection


class Source(Base):
    """A place posts come from: a VK wall, a VK search, a Telegram channel, a file."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("platform", "kind", "key", name="uq_sources_platform_kind_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))  # vk | telegram | tgweb | file
    kind: Mapped[str] = mapped_column(String(16))  # wall | comments | search | channel | file
    key: Mapped[str] = mapped_column(String(255))  # screen name, owner id, channel, query, file name
    url: Mapped[str | None] = mapped_column(String(1024))
    title: Mapped[str | None] = mapped_column(String(512))
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: The municipality of the source's posts that name no place (``cur sources add --municipality``).
    municipality: Mapped[str | None] = mapped_column(String(64))
    #: The region the source's posts belong to (``cur sources add --region``); null: the default region
    #: (``settings.region``).
    region: Mapped[str | None] = mapped_column(String(64))
    interval_minutes: Mapped[int] = mapped_column(Integer, default=15)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_success_at: Mapped[datetime | None]
    last_error_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Set when the source cannot be crawled (access denied, private, deleted...).
    failing_reason: Mapped[str | None] = mapped_column(String(255))
    #: Do not crawl before this time (flood wait, rate limit).
    retry_after: Mapped[datetime | None]
    posts_collected: Mapped[int] = mapped_column(Integer, default=0)

    cursor: Mapped[CrawlCursor | None] = relationship(back_populates="source", cascade="all, delete-orphan")


class CrawlCursor(Base):
    """Where a source's crawl stands; advanced in the transaction that stores the posts it covers."""

    __tablename__ = "crawl_cursors"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[Source] = relationship(back_populates="cursor")


class Post(Base):
    """One collected or imported post or comment, stored once per (platform, source, post id)."""

    __tablename__ = "posts"
    __table_args__ = (
        UniqueConstraint("platform", "source_key", "external_id", name="uq_posts_platform_source_external"),
        Index("ix_posts_published_at", "published_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    #: Stable key of the source (e.g. ``vk:-123``, ``tg:channel``, ``file:export``).
    source_key: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str] = mapped_column(String(128))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    #: For comments: the external id of the post they are under.
    parent_external_id: Mapped[str | None] = mapped_column(String(128))
    author: Mapped[str | None] = mapped_column(String(512))
    author_id: Mapped[str | None] = mapped_column(String(128))
    published_at: Mapped[datetime]
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(String(1024))
    #: sha256 of the normalised text: finds reposts and exact duplicates (compared in memory; not indexed, migration 0016).
    content_hash: Mapped[str] = mapped_column(String(64))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    collected_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    edit_count: Mapped[int] = mapped_column(Integer, default=0)
    is_deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None]
    #: Set once the processing pass has analysed the current text.
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    #: An appeal from a feedback platform (`cur import --kind appeals`, a file source with ``kind: appeals``):
    #: a problem by definition, so the classifier skips the relevance question.
    is_appeal: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: The region the post belongs to (its source's, set when stored or, at the latest, when processed); null:
    #: the default region (``settings.region``).
    region: Mapped[str | None] = mapped_column(String(64), index=True)

    revisions: Mapped[list[PostRevision]] = relationship(back_populates="post", cascade="all, delete-orphan")


class PostRevision(Base):
    """Earlier texts of an edited post."""

    __tablename__ = "post_revisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)

    post: Mapped[Post] = relationship(back_populates="revisions")


# --------------------------------------------------------------------------- analysis


class ModelVersion(Base):
    """A trained classifier bundle, with what it was trained on and how good it is."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(String(1024))
    checksum: Mapped[str] = mapped_column(String(64))
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None]
    notes: Mapped[str | None] = mapped_column(Text)


class PostAnalysis(Base):
    """What a model version said about a post."""

    __tablename__ = "post_analyses"
    __table_args__ = (UniqueConstraint("post_id", "model_version", name="uq_post_analyses_post_model"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    model_version: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    relevant: Mapped[bool] = mapped_column(Boolean)
    relevance_confidence: Mapped[float] = mapped_column(Float)
    sector: Mapped[str | None] = mapped_column(String(64), index=True)
    category: Mapped[str | None] = mapped_column(String(64))
    urgency: Mapped[str | None] = mapped_column(String(16))
    tone: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    unsure: Mapped[bool] = mapped_column(Boolean, default=False)
    municipality: Mapped[str | None] = mapped_column(String(64))
    #: The first street address the post names (``nlp.addresses`` key, ``весенний#12``); all of them in
    #: ``details["addresses"]``.
    address: Mapped[str | None] = mapped_column(String(255), index=True)
    entities: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- people and authorities


class Authority(Base):
    """An authority an incident can be routed to (synced from the region profile)."""

    __tablename__ = "authorities"
    __table_args__ = (UniqueConstraint("region", "code", name="uq_authorities_region_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(512))
    role: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(255))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(String(1024))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    login: Mapped[str] = mapped_column(String(128), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: admin | operator | specialist | analyst | curator
    role: Mapped[str] = mapped_column(String(32))
    authority_id: Mapped[int | None] = mapped_column(ForeignKey("authorities.id", ondelete="SET NULL"))
    email: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Time of the latest successful sign-in (NULL: never signed in).
    last_login_at: Mapped[datetime | None]
    #: Set by an admin's create / reset (generated password): the user must set their own before anything else.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Part of every session cookie's fingerprint; signing out or changing the password adds one, ending every session.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: The one region the user works in (``cur users add --region``); null: every region the deployment serves
    #: (a federal operator; in a one-region deployment, that region). A specialist's region is their authority's.
    region: Mapped[str | None] = mapped_column(String(64))


class ApiToken(Base):
    """Back-office API token of an authority; only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    label: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    #: Latest API request made with the token, to the minute (written at most once a minute).
    last_used_at: Mapped[datetime | None]


class ApiIdempotency(Base):
    """The answer given to a back office's POST with an ``Idempotency-Key``: a retry gets it again, nothing is redone."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("authority_id", "key", name="uq_api_idempotency_authority_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(128))
    #: SHA-256 of method, path and body: the same key with another request is refused
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class AuditEntry(Base):
    """Every action a person takes in the web application or the CLI."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


# --------------------------------------------------------------------------- incidents


class Incident(Base):
    """One citizen problem; groups every post about it."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_state", "state"), Index("ix_incidents_sector", "sector"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    region: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(512), default="")
    sector: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))
    municipality: Mapped[str | None] = mapped_column(String(64))
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    #: new | routed | acknowledged | answered | resolved | rejected | reopened
    state: Mapped[str] = mapped_column(String(32), default="new")
    authority_id: Mapped[int | None] = mapped_column(ForeignKey("authorities.id", ondelete="SET NULL"), index=True)
    routing_rule: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Time of the earliest post.
    first_seen_at: Mapped[datetime | None]
    last_post_at: Mapped[datetime | None]
    routed_at: Mapped[datetime | None]
    first_reply_due: Mapped[datetime | None]
    interim_due: Mapped[datetime | None]
    final_due: Mapped[datetime | None]
    first_reply_at: Mapped[datetime | None]
    interim_at: Mapped[datetime | None]
    final_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    #: Where the countdown of the current assignment started (routing, or the last reroute or
    #: urgency change); the due times of later stages are counted from it.
    deadline_start_at: Mapped[datetime | None]
    #: The final due time was set by a reopening: later answers do not move it (a reroute clears it).
    final_due_pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    is_possible_fake: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    posts: Mapped[list[IncidentPost]] = relationship(back_populates="incident", cascade="all, delete-orphan")

    @property
    def answer_flag(self) -> str | None:
        """The reading of an official answer the ЦУР head must look at (formulaic | refusal | rude,
        or ``review`` for an unsure reading); cleared when a person reviews it. Kept in ``details``."""
        value = (self.details or {}).get("answer_flag")
        return str(value) if value else None

    @answer_flag.setter
    def answer_flag(self, value: str | None) -> None:
        details = dict(self.details or {})
        if value:
            details["answer_flag"] = value
        else:
            details.pop("answer_flag", None)
        self.details = details  # reassign: JSON columns do not track in-place changes


class IncidentPost(Base):
    __tablename__ = "incident_posts"

    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="posts")


class Assignment(Base):
    """Which authority an incident was routed to, and when; rerouting closes the old one."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)


class IncidentEvent(Base):
    """Append-only log of every state change of an incident (triggers refuse UPDATE and DELETE)."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    authority_id: Mapped[int | None] = mapped_column(ForeignKey("authorities.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Response(Base):
    """An authority's answer to an incident."""

    __tablename__ = "responses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    authority_id: Mapped[int | None] = mapped_column(ForeignKey("authorities.id"))
    #: first_reply | interim | final
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(128))
    #: web | api | vk | telegram | cli
    channel: Mapped[str] = mapped_column(String(16))
    post_id: Mapped[int | None] = mapped_column(ForeignKey("posts.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Answer quality (``nlp/answers.py``): substantive | formulaic | refusal | rude; a reviewer's
    #: reading replaces the classifier's.
    quality: Mapped[str | None] = mapped_column(String(16))
    quality_confidence: Mapped[float | None] = mapped_column(Float)
    quality_cues: Mapped[list[Any] | None] = mapped_column(JSONType)
    #: The reading is unsure and waits for a person.
    quality_review: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    quality_reviewed_by: Mapped[str | None] = mapped_column(String(128))
    #: The answer closed its stage (false: held back as formulaic, refusal or rude).
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class ReviewDecision(Base):
    """A media operator's decision on a flagged post; feeds retraining."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    reviewer: Mapped[str] = mapped_column(String(128))
    #: confirm | correct | not_problem | merge | fake
    decision: Mapped[str] = mapped_column(String(16))
    relevant: Mapped[bool] = mapped_column(Boolean)
    sector: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(64))
    urgency: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    #: what the decision changed, so it can be undone: {"before_incident_id", "created_incident", "before_class"}
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    #: undone by an operator («отменить»): the row stays, the post returns to the queue
    reverted_at: Mapped[datetime | None]
    reverted_by: Mapped[str | None] = mapped_column(String(128))


# --------------------------------------------------------------------------- notifications


class OutboxMessage(Base):
    """A notification written before it is sent, retried until delivered."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: email | telegram | webhook
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(1024))
    subject: Mapped[str] = mapped_column(String(512), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Makes enqueueing idempotent: one message per key.
    dedup_key: Mapped[str] = mapped_column(String(255), unique=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"), index=True)
    #: pending | sent | dead
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------- scheduler coordination


class EventCursor(Base):
    """How far a sweep over ``incident_events`` has come (the notification sweep: ``notify:<region>``).

    Every event with ``id <= last_id`` has been handled, except the ids listed in
    ``gaps``: ids below ``last_id`` not visible when the sweep passed them (a
    transaction still open, or one rolled back). Each gap is ``[lo, hi, first
    seen ISO time]`` and is looked at again on every pass until its events
    appear or it is old enough to be a rolled-back id. Updated in the
    transaction that enqueues the notifications it covers.
    """

    __tablename__ = "event_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    gaps: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SchedulerLease(Base):
    """Which ``cur run`` process may run the scheduler's jobs on this database.

    ``holder`` is NULL when the lease is free (released by a clean shutdown);
    otherwise it belongs to ``holder`` until ``expires_at`` unless renewed.
    ``host``, ``pid`` and ``acquired_at`` describe the current (or last) holder.
    """

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(255))
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime | None]
    renewed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]


class JobRun(Base):
    """The last run of one scheduler job (``process``, ``deliver``, ``crawl:<source id>`` …), for ``cur status``.

    ``finished_at`` is NULL while the run goes on (or if its process died);
    ``ok`` is NULL then too. ``host`` and ``pid`` are the process that ran it
    (a worker's when the job ran as a task on a broker).
    """

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    ok: Mapped[bool | None] = mapped_column(Boolean)
    message: Mapped[str | None] = mapped_column(Text)
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None] = mapped_column(Integer)


# --------------------------------------------------------------------------- possible fakes


class FakeClaim(Base):
    """A debunked claim in the registry: what was claimed, its refutation and a link to it.

    Removing a claim only deactivates it (its marks keep naming it). Every change is
    written to the audit log (``fake_claim.*``) by ``pipeline.fakes``.
    """

    __tablename__ = "fake_claims"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    claim: Mapped[str] = mapped_column(Text)
    refutation: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1024))
    #: sha256 of the normalised claim: the same claim is not added twice (imports are rerunnable)
    claim_hash: Mapped[str] = mapped_column(String(64), unique=True)
    added_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class FakeMark(Base):
    """A post found similar to a debunked claim («возможный фейк»), and the operator's decision on it."""

    __tablename__ = "fake_marks"
    __table_args__ = (UniqueConstraint("post_id", "claim_id", name="uq_fake_marks_post_claim"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("fake_claims.id", ondelete="CASCADE"), index=True)
    #: the combined similarity and its two parts (lemma TF-IDF cosine, navec mean-vector cosine)
    score: Mapped[float] = mapped_column(Float)
    lemma_score: Mapped[float] = mapped_column(Float)
    vector_score: Mapped[float] = mapped_column(Float)
    #: the threshold in force when the post was marked
    threshold: Mapped[float] = mapped_column(Float)
    #: auto (the processing pass) | manual (an operator marked the post a fake; the closest claim)
    origin: Mapped[str] = mapped_column(String(16), default="auto")
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: None (waiting) | confirmed | dismissed
    decision: Mapped[str | None] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None]


class FakeThreshold(Base):
    """The similarity threshold of the fake matcher, one row per change (the latest is in force)."""

    __tablename__ = "fake_thresholds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    threshold: Mapped[float] = mapped_column(Float)
    #: figures on the decided marks the threshold was tuned on (None when set by hand)
    precision: Mapped[float | None] = mapped_column(Float)
    recall: Mapped[float | None] = mapped_column(Float)
    f1: Mapped[float | None] = mapped_column(Float)
    decided: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(default=utcnow)

