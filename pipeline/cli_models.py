"""`cur train`, `cur evaluate`, `cur classify` and `cur models list|activate|rollback`.

The file registry (``classifier_models/`` or the ``models_dir`` setting) is the
source of truth for artefacts and the active pointer; when the database is
initialised, versions and activations are mirrored into its ``model_versions``
table and reviewers' decisions are added to the training data.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # the classifier (numpy, scipy, scikit-learn) is imported inside the commands,
    # so that `cur --help` and the other commands do not pay for it at start-up
    from nlp.classifier import Classifier, Example
    from nlp.classifier.registry import Registry

#: Same as nlp.classifier.data.CORPUS_DIR (a test checks), without importing the classifier.
CORPUS_DIR = Path(__file__).resolve().parents[1] / "classifier_models" / "corpus"
#: Same as TrainOptions.bulk_cap (a test checks).
DEFAULT_BULK_CAP = 300

TEST_SIZE = 0.2
SPLIT_SEED = 0
BATCH = 512


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"Ошибка: {message}", err=True)
    sys.exit(code)


def _settings():
    from config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as e:
        click.echo(f"Конфигурация содержит ошибки ({len(e.issues)}):", err=True)
        for issue in e.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(2)


def _registry(models_dir: str | None) -> Registry:
    from nlp.classifier.registry import Registry
    if models_dir:
        return Registry(Path(models_dir))
    s = _settings()
    return Registry(Path(s.models_dir) if s.models_dir else None)


def _database():
    """The configured database if it is initialised, else None (the commands work without it)."""
    try:
        from storage import Database

        url = _settings().database_url
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            return None  # do not create an empty database file as a side effect
        db = Database(url)
        if db.is_initialised():
            return db
        db.dispose()
    except Exception:  # noqa: BLE001 - no database is a normal state for these commands
        pass
    return None


def _data_dir(data_dir: str | None) -> Path:
    from nlp.classifier.data import DEFAULT_DATA_DIR
    return Path(data_dir or os.environ.get("CUR_DATA_DIR") or DEFAULT_DATA_DIR)


def _reviewed(db) -> list[Example]:  # noqa: ANN001
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


def _collect(data_dir: Path, corpus_dir: Path, extra: tuple[str, ...], use_shared: bool, use_db: bool) -> tuple[list[Example], list[str]]:
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
        db = _database()
        if db is not None:
            rev = _reviewed(db)
            examples += rev
            notes.append(f"проверенные посты из базы: {len(rev)}")
            db.dispose()
    return examples, notes


def _summary(report: dict) -> dict:
    out: dict[str, Any] = {"n": report["n"], "score": report["score"]}
    for head in ("relevance", "sector", "category", "urgency", "tone"):
        r = report[head]
        if r.get("n"):
            out[head] = {"n": r["n"], "accuracy": round(r["accuracy"], 4), "macro_f1": round(r["macro_f1"], 4)}
    out["share_judged_relevant_of_non_problems"] = report["share_judged_relevant_of_non_problems"]
    out["end_to_end_sector_accuracy"] = report["end_to_end_sector_accuracy"]
    return out


def _sync_db(version: str, registry: Registry, activate: bool) -> None:
    db = _database()
    if db is None:
        return
    from storage.models_registry import record_model_version, set_active_model

    meta = registry.meta(version)
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


def _load_model(model: str | None, models_dir: str | None) -> Classifier:
    from nlp.classifier import Classifier
    if model and Path(model).exists():
        return Classifier.load(Path(model))
    return _registry(models_dir).load(model)


def _eval_sets(data_dir: Path, corpus_dir: Path, use_db: bool) -> tuple[list[Example], list[Example]]:
    from nlp.classifier import grouped_split, load_corpus
    examples, _ = _collect(data_dir, corpus_dir, (), True, use_db)
    _, test = grouped_split(examples, TEST_SIZE, SPLIT_SEED)
    return [examples[i] for i in test], load_corpus(corpus_dir, holdout=True)


def _print_report(title: str, r: dict) -> None:
    click.echo(f"{title}: n={r['n']}, итоговый балл {r['score']:.4f}")
    for head, name in (("relevance", "проблема/не проблема"), ("sector", "направление"), ("category", "категория"), ("urgency", "срочность")):
        h = r[head]
        if h.get("n"):
            click.echo(f"  {name:22s} n={h['n']:6d}  точность {h['accuracy']:.3f}  macro-F1 {h['macro_f1']:.3f}")
    if r.get("share_judged_relevant_of_non_problems") is not None:
        click.echo(f"  доля «не проблем», признанных проблемой: {r['share_judged_relevant_of_non_problems']:.3%}")


def register(main: click.Group) -> None:
    opt_models = click.option("--models-dir", type=click.Path(file_okay=False), help="Каталог моделей (по умолчанию models_dir из настроек или classifier_models/).")
    opt_data = click.option("--data-dir", type=click.Path(file_okay=False), help="Каталог внешних наборов (spb_appeals.csv.gz, rusentiment_*.csv.gz); по умолчанию ../shared/data или CUR_DATA_DIR.")
    opt_corpus = click.option("--corpus-dir", type=click.Path(exists=True, file_okay=False), default=str(CORPUS_DIR), show_default=True, help="Размеченный корпус проекта (*.jsonl; holdout_* не используется для обучения).")

    @main.command("train")
    @opt_models
    @opt_data
    @opt_corpus
    @click.option("--extra", multiple=True, type=click.Path(exists=True, dir_okay=False), help="Дополнительный размеченный файл JSONL (можно несколько раз).")
    @click.option("--shared/--no-shared", default=True, help="Использовать внешние наборы (СПб, RuSentiment).")
    @click.option("--db/--no-db", "use_db", default=True, help="Добавить проверенные операторами посты из базы данных.")
    @click.option("--full", is_flag=True, help="Обучить на всех данных, без отложенной выборки (метрики будут завышены).")
    @click.option("--activate/--no-activate", default=True, help="Сделать новую версию активной, если она не хуже текущей.")
    @click.option("--force", is_flag=True, help="Активировать, даже если новая версия хуже.")
    @click.option("--bulk-cap", type=int, default=DEFAULT_BULK_CAP, show_default=True, help="Не больше стольких обращений СПб на категорию (0 — без ограничения).")
    def train_cmd(models_dir, data_dir, corpus_dir, extra, shared, use_db, full, activate, force, bulk_cap) -> None:  # noqa: ANN001
        """Обучить классификатор на корпусе проекта, внешних наборах и проверенных постах."""
        from nlp.classifier import DataError, TrainOptions, evaluate, fingerprint, grouped_split, load_corpus, train, write_report
        from nlp.classifier.registry import WorseModelError
        try:
            examples, notes = _collect(_data_dir(data_dir), Path(corpus_dir), extra, shared, use_db)
        except DataError as e:
            _fail(str(e))
        for n in notes:
            click.echo(f"Данные: {n}")
        train_idx, test_idx = grouped_split(examples, TEST_SIZE, SPLIT_SEED)
        test = [examples[i] for i in test_idx]
        fit = examples if full else [examples[i] for i in train_idx]
        click.echo(f"Обучение на {len(fit)} примерах, отложено для оценки {len(test)} (группы дубликатов не разделяются)…")
        try:
            clf = train(fit, TrainOptions(bulk_cap=bulk_cap), log=lambda s: click.echo(f"  {s}"))
        except ValueError as e:
            _fail(f"обучение невозможно: {e}")
        report = evaluate(clf, test)
        holdout = load_corpus(Path(corpus_dir), holdout=True)
        hold_report = evaluate(clf, holdout) if holdout else None
        clf.meta["metrics"] = {"test": _summary(report)}
        if hold_report:
            clf.meta["metrics"]["holdout"] = _summary(hold_report)
        clf.meta["evaluation"] = {"fingerprint": fingerprint(test), "score": report["score"], "n": len(test), "trained_on_test": full}
        registry = _registry(models_dir)
        path = registry.add(clf)
        write_report(report, path, "evaluation")
        if hold_report:
            write_report(hold_report, path, "holdout_evaluation")
        click.echo(f"Версия {clf.version} сохранена в {path}")
        _print_report("Оценка на отложенной выборке", report)
        if hold_report:
            _print_report("Оценка на корпусе других регионов (holdout)", hold_report)
        activated = False
        if activate:
            try:
                res = registry.activate(clf.version, force=force, evaluator=lambda m: evaluate(m, test)["score"])
                activated = True
                if res["active_score"] is not None:
                    click.echo(f"Версия {clf.version} активна (балл {res['candidate_score']:.4f} против {res['active_score']:.4f} у {res['previous']}).")
                else:
                    click.echo(f"Версия {clf.version} активна.")
            except WorseModelError as e:
                _sync_db(clf.version, registry, False)
                _fail(
                    f"версия {e.version} хуже активной {e.active_version} на оценочной выборке "
                    f"({e.candidate:.4f} < {e.active:.4f}) и не активирована; используйте --force",
                    4,
                )
        _sync_db(clf.version, registry, activated)

    @main.command("evaluate")
    @opt_models
    @opt_data
    @opt_corpus
    @click.option("--model", help="Версия или путь к каталогу модели (по умолчанию активная).")
    @click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False), help="Размеченный JSONL для оценки (по умолчанию отложенная выборка и holdout-корпус).")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), default="evaluation", show_default=True, help="Куда записать JSON и PNG.")
    @click.option("--db/--no-db", "use_db", default=True, help="Включить проверенные посты из базы в отложенную выборку.")
    def evaluate_cmd(models_dir, data_dir, corpus_dir, model, input_path, out_dir, use_db) -> None:  # noqa: ANN001
        """Оценить модель: точность, полнота, F1 по классам, матрица ошибок (JSON и PNG)."""
        from nlp.classifier import DataError, ModelError, evaluate, load_jsonl, write_report
        try:
            clf = _load_model(model, models_dir)
            if input_path:
                sets = [("evaluation", load_jsonl(Path(input_path)))]
            else:
                test, holdout = _eval_sets(_data_dir(data_dir), Path(corpus_dir), use_db)
                sets = [("evaluation", test), ("holdout_evaluation", holdout)]
        except (ModelError, DataError) as e:
            _fail(str(e))
        click.echo(f"Модель {clf.version}")
        for stem, examples in sets:
            if not examples:
                continue
            report = evaluate(clf, examples)
            j, p = write_report(report, Path(out_dir), stem)
            _print_report("Отложенная выборка" if stem == "evaluation" else "Корпус других регионов (holdout)", report)
            click.echo(f"  записано: {j}, {p}")

    @main.command("classify")
    @opt_models
    @click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False), help="JSONL с объектами {\"id\", \"text\"}.")
    @click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False), help="Куда записать результат (JSONL, строка на каждую входную).")
    @click.option("--model", help="Версия или путь к каталогу модели (по умолчанию активная).")
    def classify_cmd(models_dir, input_path, output_path, model) -> None:  # noqa: ANN001
        """Классифицировать посты из файла (без базы данных)."""
        from nlp.classifier import ModelError
        try:
            clf = _load_model(model, models_dir)
        except ModelError as e:
            _fail(str(e))
        items: list[tuple[Any, str]] = []
        with open(input_path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    _fail(f"{input_path}, строка {n}: некорректный JSON ({e.msg})")
                if not isinstance(obj, dict) or "id" not in obj:
                    _fail(f"{input_path}, строка {n}: нужен объект с полями «id» и «text»")
                text = obj.get("text")
                if not isinstance(text, str):
                    _fail(f"{input_path}, строка {n}: поле «text» должно быть строкой")
                items.append((obj["id"], text))
        with open(output_path, "w", encoding="utf-8") as out:
            for i in range(0, len(items), BATCH):
                chunk = items[i : i + BATCH]
                for (id_, _), p in zip(chunk, clf.predict([t for _, t in chunk])):
                    out.write(json.dumps(p.contract(id_), ensure_ascii=False) + "\n")
        click.echo(f"Классифицировано постов: {len(items)} (модель {clf.version}) → {output_path}")

    @main.group("models")
    def models_group() -> None:
        """Версии модели классификатора: список, активация, откат."""

    @models_group.command("list")
    @opt_models
    def models_list(models_dir) -> None:  # noqa: ANN001
        """Показать сохранённые версии с метриками и контрольными суммами."""
        registry = _registry(models_dir)
        versions = registry.versions()
        if not versions:
            click.echo(f"В {registry.root} нет сохранённых моделей.")
            return
        click.echo(f"{'':2}{'версия':28}{'создана (UTC)':27}{'балл':>8}{'F1 напр.':>10}{'F1 кат.':>9}  данные        контрольная сумма")
        for m in versions:
            t = m.get("metrics", {}).get("test", {})
            click.echo(
                f"{'* ' if m['active'] else '  '}{m['version']:28}{m.get('created_at', ''):27}"
                f"{m.get('evaluation', {}).get('score', float('nan')):8.4f}"
                f"{t.get('sector', {}).get('macro_f1', float('nan')):10.3f}{t.get('category', {}).get('macro_f1', float('nan')):9.3f}"
                f"  {m.get('data_fingerprint', '')[:12]}  {m.get('checksum', '')[:12]}"
            )
        click.echo("(* — активная версия)")

    @models_group.command("activate")
    @opt_models
    @opt_data
    @opt_corpus
    @click.argument("version")
    @click.option("--force", is_flag=True, help="Активировать, даже если версия хуже активной.")
    @click.option("--db/--no-db", "use_db", default=True, help="Включить проверенные посты из базы в оценочную выборку.")
    def models_activate(models_dir, data_dir, corpus_dir, version, force, use_db) -> None:  # noqa: ANN001
        """Сделать версию активной (не хуже текущей на оценочной выборке, если не указан --force)."""
        from nlp.classifier import DataError, ModelError, evaluate
        from nlp.classifier.registry import WorseModelError
        registry = _registry(models_dir)
        try:
            evaluator = None
            if not force:
                test, _ = _eval_sets(_data_dir(data_dir), Path(corpus_dir), use_db)
                evaluator = lambda m: evaluate(m, test)["score"]  # noqa: E731
            res = registry.activate(version, force=force, evaluator=evaluator)
        except WorseModelError as e:
            _fail(f"версия {e.version} хуже активной {e.active_version} ({e.candidate:.4f} < {e.active:.4f}); используйте --force", 4)
        except (ModelError, DataError) as e:
            _fail(str(e))
        _sync_db(version, registry, True)
        extra = f" (балл {res['candidate_score']:.4f} против {res['active_score']:.4f})" if res["active_score"] is not None else ""
        click.echo(f"Активна версия {version}{extra}.")

    @models_group.command("rollback")
    @opt_models
    def models_rollback(models_dir) -> None:  # noqa: ANN001
        """Вернуть предыдущую активную версию."""
        from nlp.classifier import ModelError
        registry = _registry(models_dir)
        try:
            version = registry.rollback()
        except ModelError as e:
            _fail(str(e))
        _sync_db(version, registry, True)
        click.echo(f"Откат выполнен: активна версия {version}.")
