"""The classifier's model versions as a service of the domain, used by `cur` and by the web's models page.

The file registry (``classifier_models/`` or the ``models_dir`` setting) is the
source of truth for artefacts and the active pointer; when the database is
initialised, versions and activations are mirrored into its ``model_versions``
table and reviewers' decisions are added to the training data.

Training (and an activation that first checks quality) is long: one at a time
per models directory. :func:`model_job_lock` is an advisory ``flock`` on
``<models dir>/.model-job.lock``; ``cur train`` holds it while it trains, and
:class:`ModelJobs` (the web) takes it before starting a worker process and
hands the same open lock to the child, so the lock lives exactly as long as
the job, whichever process ends first. A second request gets :class:`Busy`.
The worker is reaped by a thread that waits for it, so no zombie is left.

The classifier (numpy, scipy, scikit-learn) is imported inside the functions,
so that importing this module stays cheap.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import subprocess
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from pipeline.errors import Busy, InvalidInput, ModelUnavailable, NotFound, Refused

if TYPE_CHECKING:
    from config import Settings
    from nlp.classifier import Classifier, Example
    from nlp.classifier.registry import Registry, WorseModelError

#: Same as nlp.classifier.data.CORPUS_DIR (a test checks), without importing the classifier.
CORPUS_DIR = Path(__file__).resolve().parents[1] / "classifier_models" / "corpus"
#: Same as TrainOptions.bulk_cap (a test checks).
DEFAULT_BULK_CAP = 300

TEST_SIZE = 0.2
SPLIT_SEED = 0

LOCK_NAME = ".model-job.lock"
LOG_NAME = ".model-job.log"

Log = Callable[[str], Any]


def _quiet(_line: str) -> None:
    pass


# --------------------------------------------------------------------------- where things are


def registry(settings: Settings | None = None, models_dir: str | Path | None = None) -> Registry:
    from nlp.classifier.registry import Registry

    if models_dir:
        return Registry(Path(models_dir))
    if settings is None:
        from config import load_settings

        settings = load_settings()
    return Registry(Path(settings.models_dir) if settings.models_dir else None)


def models_root(settings: Settings | None = None, models_dir: str | Path | None = None) -> Path:
    """The models directory (without importing the classifier)."""
    if models_dir:
        return Path(models_dir)
    if settings is not None and settings.models_dir:
        return Path(settings.models_dir)
    if settings is None:
        from config import load_settings

        s = load_settings()
        if s.models_dir:
            return Path(s.models_dir)
    return CORPUS_DIR.parent


def database(settings: Settings | None = None) -> Any:
    """The configured database if it is initialised, else None (the registry works without it)."""
    try:
        from storage import Database

        if settings is None:
            from config import load_settings

            settings = load_settings()
        url = settings.database_url
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            return None  # do not create an empty database file as a side effect
        db = Database(url)
        if db.is_initialised():
            return db
        db.dispose()
    except Exception:  # noqa: BLE001 - no database is a normal state for the registry
        pass
    return None


def data_dir(path: str | Path | None) -> Path:
    from nlp.classifier.data import DEFAULT_DATA_DIR

    return Path(path or os.environ.get("CUR_DATA_DIR") or DEFAULT_DATA_DIR)


# --------------------------------------------------------------------------- training data


def reviewed(db: Any) -> list[Example]:
    """Reviewers' decisions on posts, as training examples."""
    from nlp.classifier import Example
    from storage.models_registry import reviewed_examples

    with db.session() as s:
        rows = reviewed_examples(s)
    return [
        Example(
            text=r["text"],
            relevant=r["relevant"],
            sector=r["sector"],
            category=r["category"] or ("other" if r["relevant"] else None),
            urgency=(r["urgency"] or "normal") if r["relevant"] else None,
            group=f"post:{r['post_id']}",
            source="review",
        )
        for r in rows
        if r["text"] and (not r["relevant"] or r["sector"])
    ]


def collect(data_dir: Path, corpus_dir: Path, extra: tuple[str, ...], use_shared: bool, use_db: bool,
            settings: Settings | None = None) -> tuple[list[Example], list[str]]:  # fmt: skip
    from nlp.classifier import load_corpus, load_jsonl
    from nlp.classifier.data import load_shared
    notes: list[str] = []
    examples = load_corpus(corpus_dir)
    notes.append(f"корпус проекта: {len(examples)}")
    if use_shared:
        shared, found = load_shared(data_dir)
        if shared:
            examples += shared
            notes.append(", ".join(found))
        else:
            notes.append(f"внешние наборы не найдены в {data_dir}: обучение только на корпусе проекта")
    for path in extra:
        ex = load_jsonl(Path(path), source="review")
        examples += ex
        notes.append(f"{path}: {len(ex)}")
    if use_db:
        db = database(settings)
        if db is not None:
            rev = reviewed(db)
            examples += rev
            notes.append(f"проверенные посты из базы: {len(rev)}")
            db.dispose()
    return examples, notes


def summary(report: dict) -> dict:
    out: dict[str, Any] = {"n": report["n"], "score": report["score"]}
    for head in ("relevance", "sector", "category", "urgency", "tone"):
        r = report[head]
        if r.get("n"):
            out[head] = {"n": r["n"], "accuracy": round(r["accuracy"], 4), "macro_f1": round(r["macro_f1"], 4)}
    out["share_judged_relevant_of_non_problems"] = report["share_judged_relevant_of_non_problems"]
    out["end_to_end_sector_accuracy"] = report["end_to_end_sector_accuracy"]
    return out


def eval_sets(data_dir: Path, corpus_dir: Path, use_db: bool, settings: Settings | None = None) -> tuple[list[Example], list[Example]]:
    from nlp.classifier import grouped_split, load_corpus
    examples, _ = collect(data_dir, corpus_dir, (), True, use_db, settings)
    _, test = grouped_split(examples, TEST_SIZE, SPLIT_SEED)
    return [examples[i] for i in test], load_corpus(corpus_dir, holdout=True)


# --------------------------------------------------------------------------- versions


def sync_db(version: str, reg: Registry, activate: bool, settings: Settings | None = None) -> None:
    """Mirror a version (and its activation) into the database's ``model_versions``, if there is a database."""
    db = database(settings)
    if db is None:
        return
    from storage.models_registry import record_model_version, set_active_model

    meta = reg.meta(version)
    with db.session() as s:
        record_model_version(
            s,
            version=version,
            path=f"versions/{version}",
            checksum=meta["checksum"],
            data_fingerprint=meta["data_fingerprint"],
            metrics=meta.get("metrics", {}),
        )
        if activate:
            set_active_model(s, version)
    db.dispose()


def load_model(model: str | None, reg: Registry) -> Classifier:
    from nlp.classifier import Classifier
    if model and Path(model).exists():
        return Classifier.load(Path(model))
    return reg.load(model)


@dataclass(frozen=True)
class Version:
    """One saved version as lists show it."""

    version: str
    active: bool
    created_at: datetime | None
    metrics: dict[str, Any] = field(default_factory=dict)
    score: float | None = None
    checksum: str = ""
    data_fingerprint: str = ""


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def list_versions(settings: Settings | None = None, models_dir: str | Path | None = None) -> list[Version]:
    """Every saved version, newest first, the active one marked (from the file registry, the source of truth)."""
    out = []
    for m in registry(settings, models_dir).versions():
        out.append(Version(
            version=m["version"], active=bool(m.get("active")), created_at=_when(m.get("created_at")),
            metrics=m.get("metrics") or {}, score=(m.get("evaluation") or {}).get("score"),
            checksum=m.get("checksum", ""), data_fingerprint=m.get("data_fingerprint", ""),
        ))  # fmt: skip
    out.sort(key=lambda v: (v.created_at or datetime.min.replace(tzinfo=timezone.utc), v.version), reverse=True)
    return out


def evaluation_report(settings: Settings | None, version: str, stem: str) -> dict[str, Any]:
    """A version's full evaluation report (with confusion matrices) as saved next to it; {} if there is none."""
    import json

    from nlp.classifier import ModelError

    try:
        path = registry(settings).path(version) / f"{stem}.json"
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, ModelError):
        return {}


def rollback(settings: Settings | None = None, models_dir: str | Path | None = None) -> str:
    """Make the previous active version active again; returns it."""
    from nlp.classifier import ModelError

    reg = registry(settings, models_dir)
    try:
        version = reg.rollback()
    except ModelError as e:
        raise Refused(str(e)) from None
    sync_db(version, reg, True, settings)
    return version


@dataclass(frozen=True)
class Activation:
    version: str
    candidate_score: float | None
    active_score: float | None


def activate(settings: Settings | None, version: str, force: bool = False, models_dir: str | Path | None = None,
             data_dir_: str | Path | None = None, corpus_dir: Path = CORPUS_DIR, use_db: bool = True) -> Activation:  # fmt: skip
    """Make ``version`` active; unless ``force``, only if it is not worse than the active one on the evaluation set.

    A worse version raises the classifier's ``WorseModelError`` (the shells report it with its figures).
    """
    from nlp.classifier import DataError, ModelError, evaluate
    from nlp.classifier.registry import WorseModelError

    reg = registry(settings, models_dir)
    if version not in {v["version"] for v in reg.versions()}:
        raise NotFound(f"версии {version} нет в {reg.root}")
    try:
        evaluator = None
        if not force:
            test, _ = eval_sets(data_dir(data_dir_), corpus_dir, use_db, settings)
            evaluator = lambda m: evaluate(m, test)["score"]  # noqa: E731
        res = reg.activate(version, force=force, evaluator=evaluator)
    except WorseModelError:
        raise
    except DataError as e:
        raise InvalidInput(str(e)) from None
    except ModelError as e:
        raise ModelUnavailable(str(e)) from None
    sync_db(version, reg, True, settings)
    return Activation(version, res.get("candidate_score"), res.get("active_score"))


# --------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainRequest:
    models_dir: str | None = None
    data_dir: str | None = None
    corpus_dir: str = str(CORPUS_DIR)
    extra: tuple[str, ...] = ()
    shared: bool = True
    use_db: bool = True
    full: bool = False
    activate: bool = True
    force: bool = False
    bulk_cap: int = DEFAULT_BULK_CAP


@dataclass
class Trained:
    version: str
    path: Path
    report: dict[str, Any]
    holdout_report: dict[str, Any] | None
    activated: bool = False
    activation: dict[str, Any] | None = None
    #: set when the new version was worse than the active one and was not activated
    worse: WorseModelError | None = None


def train_version(settings: Settings | None, req: TrainRequest, log: Log = _quiet) -> Trained:
    """Train a new version on the project's corpus, shared data sets and reviewed posts; save, evaluate, activate.

    ``log`` receives Russian progress lines. The caller holds :func:`model_job_lock`.
    """
    from nlp.classifier import DataError, TrainOptions, evaluate, fingerprint, grouped_split, load_corpus, train, write_report
    from nlp.classifier.registry import WorseModelError

    try:
        examples, notes = collect(data_dir(req.data_dir), Path(req.corpus_dir), req.extra, req.shared, req.use_db, settings)
    except DataError as e:
        raise InvalidInput(str(e)) from None
    for n in notes:
        log(f"Данные: {n}")
    train_idx, test_idx = grouped_split(examples, TEST_SIZE, SPLIT_SEED)
    test = [examples[i] for i in test_idx]
    fit = examples if req.full else [examples[i] for i in train_idx]
    log(f"Обучение на {len(fit)} примерах, отложено для оценки {len(test)} (группы дубликатов не разделяются)…")
    try:
        clf = train(fit, TrainOptions(bulk_cap=req.bulk_cap), log=lambda s: log(f"  {s}"))
    except ValueError as e:
        raise InvalidInput(f"обучение невозможно: {e}") from None
    report = evaluate(clf, test)
    holdout = load_corpus(Path(req.corpus_dir), holdout=True)
    hold_report = evaluate(clf, holdout) if holdout else None
    clf.meta["metrics"] = {"test": summary(report)}
    if hold_report:
        clf.meta["metrics"]["holdout"] = summary(hold_report)
    clf.meta["evaluation"] = {"fingerprint": fingerprint(test), "score": report["score"], "n": len(test), "trained_on_test": req.full}
    reg = registry(settings, req.models_dir)
    path = reg.add(clf)
    write_report(report, path, "evaluation")
    if hold_report:
        write_report(hold_report, path, "holdout_evaluation")
    out = Trained(clf.version, path, report, hold_report)
    if req.activate:
        try:
            out.activation = reg.activate(clf.version, force=req.force, evaluator=lambda m: evaluate(m, test)["score"])
            out.activated = True
        except WorseModelError as e:
            out.worse = e
    sync_db(clf.version, reg, out.activated, settings)
    return out


# --------------------------------------------------------------------------- one model job at a time


BUSY_MESSAGE = ("переобучение или активация модели уже идёт; дождитесь окончания — "
                "результат появится в списке версий по готовности")  # fmt: skip


@contextmanager
def model_job_lock(root: Path) -> Iterator[int]:
    """Hold the models directory's job lock (non-blocking); :class:`Busy` if another job holds it. Yields the fd."""
    fd = _take_lock(root)
    try:
        yield fd
    finally:
        os.close(fd)


def _take_lock(root: Path) -> int:
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise Busy(BUSY_MESSAGE) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def job_running(root: Path) -> bool:
    """Whether a training or activation holds the models directory's lock now."""
    path = root / LOCK_NAME
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


class ModelJobs:
    """Background model jobs of a long-running process (the web server): one at a time, every child reaped.

    ``start`` takes the lock, starts ``python -m pipeline.model_registry`` with
    the settings on its stdin and the lock's descriptor inherited, and a thread
    waits for the child (reaping it) and then closes this process's copy of the
    lock. Output goes to ``<models dir>/.model-job.log``.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self.procs: list[subprocess.Popen] = []

    def start(self, settings: Settings, job: str, *args: str) -> int:
        root = models_root(settings)
        with self._mutex:  # two requests of this process at once: one gets Busy from the lock
            fd = _take_lock(root)
            try:
                with (root / LOG_NAME).open("wb") as log:
                    proc = subprocess.Popen(
                        [sys.executable, "-m", "pipeline.model_registry", job, *args],
                        stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, pass_fds=(fd,),
                        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
                    )  # fmt: skip
                assert proc.stdin is not None
                proc.stdin.write(pickle.dumps(settings))
                proc.stdin.close()
            except BaseException:
                os.close(fd)
                raise
            self.procs.append(proc)
        threading.Thread(target=self._reap, args=(proc, fd), name=f"model-job-{proc.pid}", daemon=True).start()
        return proc.pid

    def _reap(self, proc: subprocess.Popen, fd: int) -> None:
        try:
            proc.wait()
        finally:
            os.close(fd)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the jobs started here (tests, shutdown)."""
        for p in list(self.procs):
            p.wait(timeout)


def _job_main(argv: list[str]) -> int:
    """The worker process: ``train`` or ``activate VERSION [--force]`` with the parent's settings from stdin."""
    settings = pickle.loads(sys.stdin.buffer.read())
    job = argv[0] if argv else ""

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        if job == "train":
            t = train_version(settings, TrainRequest(), log)
            log(f"Версия {t.version} сохранена" + ("; активна." if t.activated else "; не активирована (хуже активной)."))
        elif job == "activate":
            a = activate(settings, argv[1], force="--force" in argv[2:])
            log(f"Активна версия {a.version}.")
        else:
            log(f"неизвестное задание {job!r}")
            return 2
    except Exception as e:  # noqa: BLE001 - the log is the worker's only output
        log(f"Ошибка: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_job_main(sys.argv[1:]))
