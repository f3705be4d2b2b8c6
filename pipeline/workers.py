"""Workers on RabbitMQ (Dramatiq): the broker, the tasks, and the worker loop of ``cur worker``.

With ``CUR_BROKER_URL`` set, ``cur run`` keeps its scheduler (one active per
database) but sends the heavy work to the broker instead of doing it itself:

* ``crawl`` (source id) — one crawl of a source; a second crawl of the same
  source while one runs is skipped (a ``crawl:<id>`` lease);
* ``analyse`` (first id, last id, time) and ``group`` (time, sector) — the processing
  pass split into tasks (``pipeline.distributed``);
* ``deliver`` (time) — one pass over the outbox (claims keep each message single).

Queues are ``<namespace>.crawl``, ``<namespace>.process`` and
``<namespace>.deliver`` (``CUR_BROKER_NAMESPACE``, default ``cur``), durable.
Dramatiq acknowledges a message only after its task returns, so a worker
killed with -9 mid-task has its messages redelivered to another worker; every
task is idempotent (see each task), so nothing is lost and nothing doubles. A
task that fails is retried with backoff (``RETRIES`` times).

Every task records its run in ``job_runs`` (``cur status``).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .context import App

log = logging.getLogger(__name__)

RETRIES = 10
#: A crawl of one source is skipped while another worker crawls it (lease length: the longest crawl expected).
CRAWL_LEASE = timedelta(minutes=30)
KINDS = ("crawl", "process", "deliver")


def queue_names(namespace: str) -> dict[str, str]:
    return {k: f"{namespace}.{k}" for k in KINDS}


@dataclass
class Tasks:
    """The broker and its actors for one namespace."""

    broker: Any
    namespace: str
    actors: dict[str, Any] = field(default_factory=dict)

    def send_crawl(self, source_id: int) -> None:
        self.actors["crawl"].send(source_id)

    def send_analyse(self, first_id: int, last_id: int, now: datetime) -> None:
        self.actors["analyse"].send(first_id, last_id, now.isoformat())

    def send_group(self, now: datetime, sector: str | None, region: str | None = None) -> None:
        """A group task of one sector of one region (None: the default one; the message then has no region)."""
        if region is None:
            self.actors["group"].send(now.isoformat(), sector)
        else:
            self.actors["group"].send(now.isoformat(), sector, region)

    def send_deliver(self, now: datetime) -> None:
        self.actors["deliver"].send(now.isoformat())

    def close(self) -> None:
        try:
            self.broker.close()
        except Exception:  # noqa: BLE001  (closing a connection that is gone)
            pass


# --------------------------------------------------------------------------- what a worker process keeps


@dataclass
class _WorkerState:
    app: App
    classifier: Any = None
    classifier_key: str | None = None
    places: Any = None
    senders: dict[str, Any] | None = None


_state: _WorkerState | None = None
_lock = threading.Lock()


def _worker() -> _WorkerState:
    if _state is None:
        raise RuntimeError("worker state is not set: run_worker() sets it")
    return _state


def _classifier(st: _WorkerState) -> Any:
    from .process import find_active_model, load_classifier

    key = str(find_active_model(st.app))
    with _lock:
        if st.classifier_key != key:
            st.classifier, st.classifier_key = load_classifier(st.app), key
        return st.classifier


def _places(st: _WorkerState) -> Any:
    from .process import Places

    with _lock:
        if st.places is None:
            st.places = Places(st.app.region)
        return st.places


def _recorded(name: str) -> Any:
    from .health import job_run

    return job_run(_worker().app.db, name)


# --------------------------------------------------------------------------- the tasks


def task_crawl(source_id: int) -> None:
    """Crawl one source (pages and cursor commit together: a redelivered crawl resumes from the cursor)."""
    from storage import coordination as co
    from storage.models import Source

    from .crawl import Collectors, run_crawl

    st = _worker()
    db = st.app.db
    name, holder = f"crawl:{source_id}", f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    now = datetime.now(timezone.utc)
    with db.session() as s:
        src = s.get(Source, source_id)
        if src is None or not src.enabled or (src.retry_after is not None and src.retry_after > now):
            return
        tz = st.app.profile_of(src.region).region.tz
        ours, info = co.acquire_lease(s, name, holder, socket.gethostname(), os.getpid(), now, CRAWL_LEASE)
    if not ours:
        log.info("source %s is being crawled by %s:%s: skipped", source_id, info.host, info.pid)
        return
    try:
        with _recorded(name):
            for r in run_crawl(db, [source_id], Collectors(st.app.settings, default_tz=tz)):
                log.info("crawl %s: %s, new %s, edited %s, deleted %s %s", r.url, r.status, r.inserted, r.edited, r.deleted, r.message)
    finally:
        with db.session() as s:
            co.release_lease(s, name, holder, datetime.now(timezone.utc))


def task_analyse(first_id: int, last_id: int, now: str) -> None:
    from .distributed import analyse_range
    from .process import ModelNotFound

    st = _worker()
    at = datetime.fromisoformat(now)
    try:
        clf = _classifier(st)
    except ModelNotFound as e:
        log.warning("analysis skipped: %s", e)
        return
    with _recorded("process:analyse"):
        report = analyse_range(st.app, clf, first_id, last_id, at, _places(st))
    log.info("analysed posts %s..%s: %s", first_id, last_id, report)
    from .distributed import send_groups

    tasks = _tasks_of_worker()
    # the frontier may have moved past posts of any sector (of any region)
    send_groups(st.app, lambda sector, *region: tasks.send_group(at, sector, *region))


def task_group(now: str, sector: str | None, region: str | None = None) -> None:
    from .distributed import group_pending

    st = _worker()
    with _recorded("process:group"):
        report = group_pending(st.app, datetime.fromisoformat(now), sector, region=region)
    if report is not None:  # None: another worker groups, and looks again after releasing the lease
        log.info("grouped: %s", report)


def task_deliver(now: str) -> None:
    from .notify import deliver_due, senders_from_settings

    st = _worker()
    if st.senders is None:
        st.senders = senders_from_settings(st.app.settings)
    with _recorded("deliver"):
        stats = deliver_due(st.app.db, max(datetime.fromisoformat(now), datetime.now(timezone.utc)), st.senders)
    if stats.sent or stats.retried or stats.dead:
        log.info("outbox: %s", stats)


# --------------------------------------------------------------------------- the broker


_worker_tasks: Tasks | None = None


def _tasks_of_worker() -> Tasks:
    assert _worker_tasks is not None
    return _worker_tasks


def connect(settings: Any) -> Tasks:
    """The broker of ``settings.broker_url`` with the actors declared (for senders and workers alike)."""
    import dramatiq
    from dramatiq.brokers.rabbitmq import RabbitmqBroker
    from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

    if not settings.broker_url:
        raise ValueError("broker_url is not set")
    middleware = [AgeLimit(), TimeLimit(time_limit=60 * 60 * 1000), ShutdownNotifications(), Callbacks(), Pipelines(),
                  Retries(max_retries=RETRIES, min_backoff=1000, max_backoff=5 * 60 * 1000)]  # fmt: skip
    broker = RabbitmqBroker(url=settings.broker_url, middleware=middleware, confirm_delivery=True)
    ns = settings.broker_namespace
    queues = queue_names(ns)
    tasks = Tasks(broker, ns)
    for key, fn, queue in (("crawl", task_crawl, queues["crawl"]), ("analyse", task_analyse, queues["process"]),
                           ("group", task_group, queues["process"]), ("deliver", task_deliver, queues["deliver"])):  # fmt: skip
        tasks.actors[key] = dramatiq.actor(actor_name=f"{ns}.{key}", queue_name=queue, broker=broker)(fn)
    return tasks


def _preload(st: _WorkerState) -> None:
    """Load the classifier, the gazetteer and natasha's models now, not in the first task."""
    from .process import ModelNotFound

    try:
        _classifier(st)
    except ModelNotFound as e:
        log.warning("no classifier yet (%s): processing tasks wait for one", e)
        return
    _places(st).gazetteer  # noqa: B018  (built on first access)
    from nlp.ner import load_models

    load_models()


def queue_depths(settings: Any) -> dict[str, int]:
    """Messages waiting in each queue of the workers, delayed retries included (messages a worker holds are not counted)."""
    tasks = connect(settings)
    try:
        out = {}
        for q in queue_names(settings.broker_namespace).values():
            ready, delayed, _dead = tasks.broker.get_queue_message_counts(q)
            out[q] = ready + delayed
        return out
    finally:
        tasks.close()


def run_worker(app: App, threads: int = 1, kinds: tuple[str, ...] = KINDS, on_started: Callable[[], None] | None = None,
               stop: threading.Event | None = None) -> None:
    """Consume the queues of ``kinds`` with ``threads`` threads until SIGINT/SIGTERM (or ``stop``); then finish the running
    tasks and return. Messages taken but not started go back to the queue."""
    global _state, _worker_tasks
    from dramatiq import Worker

    app.ready_db()  # an outdated schema stops the worker now; the tasks then use app.db without checking again
    for noisy in ("pika", "alembic"):  # a line per connection and per check otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _state = _WorkerState(app)
    if "process" in kinds:
        _preload(_state)
    _worker_tasks = tasks = connect(app.settings)
    names = queue_names(app.settings.broker_namespace)
    worker = Worker(tasks.broker, queues={names[k] for k in kinds}, worker_threads=threads)
    stop = stop or threading.Event()
    old: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        old = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    worker.start()
    try:
        if on_started:
            on_started()
        while not stop.wait(0.5):
            pass
    finally:
        worker.stop()
        tasks.close()
        for sig, handler in old.items():
            signal.signal(sig, handler)
