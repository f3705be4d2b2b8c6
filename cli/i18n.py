"""click's own messages (usage errors, help headings) in Russian.

click marks its messages for gettext (``from gettext import gettext as _`` in
each of its modules) but ships no catalogues. :func:`install` points those
module-level ``_``/``ngettext`` names at the catalogue below; a message missing
from it is shown as click wrote it. ``tests/cli/test_errors.py`` checks the
messages users meet, so a click upgrade that renames one fails a test rather
than leaking English.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

#: click's message id -> Russian (placeholders kept as click fills them)
MESSAGES: dict[str, str] = {
    "Usage:": "Использование:",
    "Options": "Параметры",
    "Commands": "Команды",
    "Positional arguments": "Аргументы",
    "Show this message and exit.": "Показать эту справку и выйти.",
    "Show the version and exit.": "Показать версию и выйти.",
    "default: {default}": "по умолчанию: {default}",
    "required": "обязательно",
    "env var: {var}": "переменная окружения: {var}",
    "deprecated": "устарело",
    "(dynamic)": "(вычисляется)",
    "Aborted!": "Прервано.",
    "Error: {message}": "Ошибка: {message}",
    "Try '{command} {option}' for help.": "Справка: {command} {option}",
    "Missing command.": "Не указана команда.",
    "No such command {name!r}.": "Нет такой команды: {name!r}.",
    "No such option {name!r}.": "Нет такого параметра: {name!r}.",
    "Missing argument": "Не указан аргумент",
    "Missing option": "Не указан параметр",
    "Missing parameter": "Не указан параметр",
    "Missing {param_type}": "Не указан параметр",
    "Missing parameter: {param_name}": "Не указан параметр: {param_name}",
    "Invalid value for {param_hint}: {message}": "Неверное значение {param_hint}: {message}",
    "Invalid value: {message}": "Неверное значение: {message}",
    "Could not open file {filename!r}: {message}": "Не удалось открыть файл {filename!r}: {message}",
    "unknown error": "неизвестная ошибка",
    "Option {name!r} does not take a value.": "Параметр {name!r} не принимает значения.",
    "Argument {name!r} takes {nargs} values.": "Аргумент {name!r} принимает {nargs} значения.",
    "Invalid start character for option ({option})": "Недопустимый первый символ параметра ({option})",
    "Value must be an iterable.": "Нужен список значений.",
    "Choose from:\n\t{choices}": "Выберите одно из:\n\t{choices}",
    "{value!r} is not a valid {number_type}.": "{value!r} — не число.",
    "{value} is not in the range {range}.": "{value} вне допустимого диапазона {range}.",
    "{value!r} is not a valid boolean. Recognized values: {states}": "{value!r} — не логическое значение; возможные: {states}",
    "{value!r} is not a valid UUID.": "{value!r} — не UUID.",
    "{name} {filename!r} does not exist.": "{name} {filename!r} не существует.",
    "{name} {filename!r} is a file.": "{name} {filename!r} — файл, а нужна папка.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} — папка, а нужен файл.",
    "{name} {filename!r} is not readable.": "{name} {filename!r} нельзя прочитать (нет прав).",
    "{name} {filename!r} is not writable.": "В {name} {filename!r} нельзя писать (нет прав).",
    "{name} {filename!r} is not executable.": "{name} {filename!r} нельзя запустить.",
    "file": "Файл",
    "directory": "Папка",
    "path": "Путь",
    "Do you want to continue?": "Продолжить?",
    "Repeat for confirmation": "Повторите для подтверждения",
    "Error: The two entered values do not match.": "Ошибка: введённые значения не совпадают.",
    "Error: invalid input": "Ошибка: неверный ввод",
    "Press any key to continue...": "Нажмите любую клавишу…",
}

#: (singular, plural) -> (Russian for 1, Russian otherwise)
PLURALS: dict[tuple[str, str], tuple[str, str]] = {
    ("Got unexpected extra argument ({args})", "Got unexpected extra arguments ({args})"):
        ("Лишний аргумент: {args}", "Лишние аргументы: {args}"),
    ("Did you mean {possibility}?", "(Did you mean one of: {possibilities}?)"):
        ("Возможно, имелось в виду {possibility}?", "(Возможно, имелось в виду одно из: {possibilities}?)"),
    ("Option {name!r} requires an argument.", "Option {name!r} requires {nargs} arguments."):
        ("Параметру {name!r} нужно значение.", "Параметру {name!r} нужно значений: {nargs}."),
    ("{value!r} is not {choice}.", "{value!r} is not one of {choices}."):
        ("{value!r} — не {choice}.", "{value!r} — не одно из значений: {choices}."),
    ("{value!r} does not match the format {format}.", "{value!r} does not match the formats {formats}."):
        ("{value!r} не в формате {format}.", "{value!r} не в одном из форматов {formats}."),
    ("Takes {nargs} values but 1 was given.", "Takes {nargs} values but {len} were given."):
        ("Нужно значений: {nargs}, дано 1.", "Нужно значений: {nargs}, дано {len}."),
    ("{len_type} values are required, but {len_value} was given.", "{len_type} values are required, but {len_value} were given."):
        ("Нужно значений: {len_type}, дано {len_value}.", "Нужно значений: {len_type}, дано {len_value}."),
}

_MODULES = ("core", "decorators", "exceptions", "formatting", "parser", "termui", "types")


def gettext(message: str) -> str:
    return MESSAGES.get(message, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    ru = PLURALS.get((singular, plural))
    if ru is None:
        return singular if n == 1 else plural
    return ru[0] if n == 1 else ru[1]


def install() -> None:
    """Make click speak Russian in this process (idempotent)."""
    for name in _MODULES:
        mod = importlib.import_module(f"click.{name}")
        if hasattr(mod, "_"):
            mod._ = gettext  # type: ignore[attr-defined]
        if hasattr(mod, "ngettext"):
            mod.ngettext = ngettext  # type: ignore[attr-defined]


def localise(command: "click.Command") -> None:
    """Russian metavars in the usage lines of ``command`` and all its subcommands."""
    import click

    command.options_metavar = "[ПАРАМЕТРЫ]"
    if isinstance(command, click.Group):
        command.subcommand_metavar = "КОМАНДА [АРГУМЕНТЫ]..."
        for sub in command.commands.values():
            localise(sub)
