"""The root of the `cur` command: the group, its error boundary, and every subcommand added once.

Subcommands live in modules by area; they import what they need from
``cli.common`` and never this module, so the command has no import circle.
"""

from __future__ import annotations

import click

from . import i18n
from .alerts import alerts_cmd
from .data import config_group, db_group, demo, export_group, import_cmd
from .errors import CurGroup
from .fakes import fakes_group
from .incidents import incidents_group, process_cmd, routing_group
from .models import classify_cmd, evaluate_cmd, models_group, train_cmd
from .ops import notify_group, ratings_cmd, report_cmd, run_cmd, status_cmd, worker_cmd
from .sources import crawl_cmd, sources_group, telegram_group
from .webapp import serve_cmd, tokens_group, users_group

i18n.install()


@click.group(cls=CurGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cur-monitor", message="ЦУР Монитор %(version)s")
def main() -> None:
    """ЦУР Монитор: сбор постов VK и Telegram, классификация, маршрутизация инцидентов."""


for command in (
    config_group, db_group, import_cmd, export_group, demo,
    sources_group, crawl_cmd, telegram_group,
    process_cmd, routing_group, incidents_group, fakes_group, alerts_cmd,
    report_cmd, ratings_cmd, notify_group, run_cmd, worker_cmd, status_cmd,
    serve_cmd, users_group, tokens_group,
    train_cmd, evaluate_cmd, classify_cmd, models_group,
):  # fmt: skip
    main.add_command(command)
i18n.localise(main)
