"""`cur classify`: classify the posts of a JSONL file (no database), with the import's bad-line policy.

Every bad line (not UTF-8, not JSON, not an object with ``id`` and a string ``text``) is one named,
skipped line and the others are classified; with ``stop_at_first_bad`` the first bad line stops the
run before anything is written (:class:`pipeline.errors.InvalidInput` naming the file and line).
The file is streamed in batches: memory does not grow with its size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from collectors.files import BadLine
from pipeline.errors import InvalidInput

from .records import clean

BATCH = 512
KEEP_BAD = 1000


class _Predictor(Protocol):
    def predict(self, texts: Sequence[str]) -> Sequence[Any]: ...


@dataclass
class ClassifyReport:
    classified: int = 0
    bad: list[BadLine] = field(default_factory=list)
    bad_count: int = 0


def read_items(path: Path) -> Iterator[tuple[int, Any, str] | BadLine]:
    """``(line, id, text)`` for every good line of a JSONL file, a BadLine for every bad one."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, 1):
            if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield BadLine(n, None, "строка не в кодировке UTF-8")
                continue
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as e:
                yield BadLine(n, None, f"некорректный JSON ({getattr(e, 'msg', 'слишком глубокая вложенность')})")
                continue
            if not isinstance(obj, dict) or "id" not in obj:
                yield BadLine(n, None, "нужен объект с полями «id» и «text»")
                continue
            if isinstance(obj["id"], (dict, list)):
                yield BadLine(n, "id", "идентификатор должен быть строкой или числом")
                continue
            text = obj.get("text")
            if not isinstance(text, str):
                yield BadLine(n, "text", "поле «text» должно быть строкой")
                continue
            yield n, clean(obj["id"]), clean(text)


def classify_file(clf: _Predictor, input_path: Path, output_path: Path, stop_at_first_bad: bool = False) -> ClassifyReport:
    """Write one JSON line per good input line (the classifier's contract); report and skip bad lines."""
    report = ClassifyReport()
    if stop_at_first_bad:  # check the whole file first: a stopped run writes nothing
        for item in read_items(input_path):
            if isinstance(item, BadLine):
                raise InvalidInput(f"{input_path}, {item}")
    chunk: list[tuple[Any, str]] = []
    with output_path.open("w", encoding="utf-8") as out:

        def flush() -> None:
            for (id_, _), p in zip(chunk, clf.predict([t for _, t in chunk])):
                out.write(json.dumps(p.contract(id_), ensure_ascii=False) + "\n")
            report.classified += len(chunk)
            chunk.clear()

        for item in read_items(input_path):
            if isinstance(item, BadLine):
                report.bad_count += 1
                if len(report.bad) < KEEP_BAD:
                    report.bad.append(item)
                continue
            chunk.append((item[1], item[2]))
            if len(chunk) >= BATCH:
                flush()
        if chunk:
            flush()
    return report
