"""`cur train`, `cur evaluate`, `cur classify` and `cur models list|activate|rollback`.

The registry's rules (data, training, activation, mirroring into the
database, one model job at a time) are the domain's, ``pipeline.model_registry``,
shared with the web's models page; these commands parse options and print.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipeline import model_registry
from pipeline.model_registry import CORPUS_DIR, DEFAULT_BULK_CAP

from .common import fail, writable_file
from .errors import EXIT_PARTIAL

if TYPE_CHECKING:  # the classifier (numpy, scipy, scikit-learn) is imported inside the commands,
    # so that `cur --help` and the other commands do not pay for it at start-up
    from nlp.classifier.registry import Registry

BATCH = 512


def _registry(models_dir: str | None) -> Registry:
    return model_registry.registry(None, models_dir)


def _print_report(title: str, r: dict) -> None:
    click.echo(f"{title}: n={r['n']}, итоговый балл {r['score']:.4f}")
    for head, name in (("relevance", "проблема/не проблема"), ("sector", "направление"), ("category", "категория"), ("urgency", "срочность")):
        h = r[head]
        if h.get("n"):
            click.echo(f"  {name:22s} n={h['n']:6d}  точность {h['accuracy']:.3f}  macro-F1 {h['macro_f1']:.3f}")
    if r.get("share_judged_relevant_of_non_problems") is not None:
        click.echo(f"  доля «не проблем», признанных проблемой: {r['share_judged_relevant_of_non_problems']:.3%}")


opt_models = click.option("--models-dir", type=click.Path(file_okay=False), help="Каталог моделей (по умолчанию models_dir из настроек или classifier_models/).")
opt_data = click.option("--data-dir", type=click.Path(file_okay=False), help="Каталог внешних наборов (spb_appeals.csv.gz, rusentiment_*.csv.gz); по умолчанию ../shared/data или CUR_DATA_DIR.")
opt_corpus = click.option("--corpus-dir", type=click.Path(exists=True, file_okay=False), default=str(CORPUS_DIR), show_default=True, help="Размеченный корпус проекта (*.jsonl; holdout_* не используется для обучения).")


@click.command("train")
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
def train_cmd(models_dir, data_dir, corpus_dir, extra, shared, use_db, full, activate, force, bulk_cap) -> None:
    """Обучить классификатор на корпусе проекта, внешних наборах и проверенных постах."""
    req = model_registry.TrainRequest(models_dir=models_dir, data_dir=data_dir, corpus_dir=corpus_dir, extra=tuple(extra), shared=shared,
                                      use_db=use_db, full=full, activate=activate, force=force, bulk_cap=bulk_cap)  # fmt: skip
    with model_registry.model_job_lock(model_registry.models_root(None, models_dir)):
        t = model_registry.train_version(None, req, log=click.echo)
    click.echo(f"Версия {t.version} сохранена в {t.path}")
    _print_report("Оценка на отложенной выборке", t.report)
    if t.holdout_report:
        _print_report("Оценка на корпусе других регионов (holdout)", t.holdout_report)
    if t.activated and t.activation:
        res = t.activation
        if res["active_score"] is not None:
            click.echo(f"Версия {t.version} активна (балл {res['candidate_score']:.4f} против {res['active_score']:.4f} у {res['previous']}).")
        else:
            click.echo(f"Версия {t.version} активна.")
    if t.worse is not None:
        e = t.worse
        fail(
            f"версия {e.version} хуже активной {e.active_version} на оценочной выборке "
            f"({e.candidate:.4f} < {e.active:.4f}) и не активирована; используйте --force",
            EXIT_PARTIAL,
        )


@click.command("evaluate")
@opt_models
@opt_data
@opt_corpus
@click.option("--model", help="Версия или путь к каталогу модели (по умолчанию активная).")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False), help="Размеченный JSONL для оценки (по умолчанию отложенная выборка и holdout-корпус).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="evaluation", show_default=True, help="Куда записать JSON и PNG.")
@click.option("--db/--no-db", "use_db", default=True, help="Включить проверенные посты из базы в отложенную выборку.")
def evaluate_cmd(models_dir, data_dir, corpus_dir, model, input_path, out_dir, use_db) -> None:
    """Оценить модель: точность, полнота, F1 по классам, матрица ошибок (JSON и PNG)."""
    from nlp.classifier import DataError, ModelError, evaluate, load_jsonl, write_report
    try:
        clf = model_registry.load_model(model, _registry(models_dir))
        if input_path:
            sets = [("evaluation", load_jsonl(Path(input_path)))]
        else:
            test, holdout = model_registry.eval_sets(model_registry.data_dir(data_dir), Path(corpus_dir), use_db)
            sets = [("evaluation", test), ("holdout_evaluation", holdout)]
    except (ModelError, DataError) as e:
        fail(str(e))
    click.echo(f"Модель {clf.version}")
    for stem, examples in sets:
        if not examples:
            continue
        report = evaluate(clf, examples)
        j, p = write_report(report, Path(out_dir), stem)
        _print_report("Отложенная выборка" if stem == "evaluation" else "Корпус других регионов (holdout)", report)
        click.echo(f"  записано: {j}, {p}")


@click.command("classify")
@opt_models
@click.option("--input", "input_path", required=True, type=click.Path(exists=True, dir_okay=False), help="JSONL с объектами {\"id\", \"text\"}.")
@click.option("--output", "output_path", required=True, type=click.Path(dir_okay=False), help="Куда записать результат (JSONL, строка на каждую входную).")
@click.option("--model", help="Версия или путь к каталогу модели (по умолчанию активная).")
@click.option("--stop-at-first-bad", is_flag=True, help="Остановиться на первой плохой строке, ничего не записав.")
def classify_cmd(models_dir, input_path, output_path, model, stop_at_first_bad) -> None:
    """Классифицировать посты из файла (без базы данных).

    Плохие строки пропускаются и перечисляются с номерами (код выхода 4), остальные классифицируются.
    """
    from nlp.classifier import ModelError
    from pipeline.ingest.classify_file import classify_file

    writable_file(Path(output_path), "--output")
    try:
        clf = model_registry.load_model(model, _registry(models_dir))
    except ModelError as e:
        fail(str(e))
    report = classify_file(clf, Path(input_path), Path(output_path), stop_at_first_bad=stop_at_first_bad)
    click.echo(f"Классифицировано постов: {report.classified} (модель {clf.version}) → {output_path}"
               + (f"; пропущено строк с ошибками {report.bad_count}" if report.bad_count else ""))
    for bad in report.bad[:50]:
        click.echo(f"  {input_path}, {bad}", err=True)
    if report.bad_count > 50:
        click.echo(f"  … и ещё {report.bad_count - 50} строк с ошибками", err=True)
    if report.bad_count:
        raise SystemExit(EXIT_PARTIAL)


@click.group("models")
def models_group() -> None:
    """Версии модели классификатора: список, активация, откат."""


@models_group.command("list")
@opt_models
def models_list(models_dir) -> None:
    """Показать сохранённые версии с метриками и контрольными суммами."""
    versions = model_registry.list_versions(None, models_dir)
    if not versions:
        click.echo(f"В {model_registry.models_root(None, models_dir)} нет сохранённых моделей.")
        return
    click.echo(f"{'':2}{'версия':28}{'создана (UTC)':27}{'балл':>8}{'F1 напр.':>10}{'F1 кат.':>9}  данные        контрольная сумма")
    nan = float("nan")
    for v in reversed(versions):  # oldest first
        t = v.metrics.get("test", {})
        created = v.created_at.isoformat() if v.created_at else ""
        click.echo(
            f"{'* ' if v.active else '  '}{v.version:28}{created:27}"
            f"{v.score if v.score is not None else nan:8.4f}"
            f"{t.get('sector', {}).get('macro_f1', nan):10.3f}{t.get('category', {}).get('macro_f1', nan):9.3f}"
            f"  {v.data_fingerprint[:12]}  {v.checksum[:12]}"
        )
    click.echo("(* — активная версия)")


@models_group.command("activate")
@opt_models
@opt_data
@opt_corpus
@click.argument("version")
@click.option("--force", is_flag=True, help="Активировать, даже если версия хуже активной.")
@click.option("--db/--no-db", "use_db", default=True, help="Включить проверенные посты из базы в оценочную выборку.")
def models_activate(models_dir, data_dir, corpus_dir, version, force, use_db) -> None:
    """Сделать версию активной (не хуже текущей на оценочной выборке, если не указан --force)."""
    from nlp.classifier.registry import WorseModelError

    try:
        with model_registry.model_job_lock(model_registry.models_root(None, models_dir)):
            res = model_registry.activate(None, version, force=force, models_dir=models_dir, data_dir_=data_dir,
                                          corpus_dir=Path(corpus_dir), use_db=use_db)  # fmt: skip
    except WorseModelError as e:
        fail(f"версия {e.version} хуже активной {e.active_version} ({e.candidate:.4f} < {e.active:.4f}); используйте --force", EXIT_PARTIAL)
    extra = f" (балл {res.candidate_score:.4f} против {res.active_score:.4f})" if res.active_score is not None else ""
    click.echo(f"Активна версия {version}{extra}.")


@models_group.command("rollback")
@opt_models
def models_rollback(models_dir) -> None:
    """Вернуть предыдущую активную версию."""
    version = model_registry.rollback(None, models_dir)
    click.echo(f"Откат выполнен: активна версия {version}.")
