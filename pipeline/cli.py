"""The `cur` console command. Subcommands are registered from pipeline modules."""

from __future__ import annotations

import sys

import click

from config import ConfigError, load_configuration, load_settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ЦУР Монитор: сбор постов VK и Telegram, классификация, маршрутизация инцидентов."""


@main.group("config")
def config_group() -> None:
    """Проверка настроек, таксономии и профилей регионов."""


@config_group.command("check")
def config_check() -> None:
    """Проверить все файлы конфигурации; каждая ошибка — с файлом, ключом и причиной."""
    try:
        cfg = load_configuration(load_settings())
    except ConfigError as e:
        click.echo(f"Конфигурация содержит ошибки ({len(e.issues)}):", err=True)
        for issue in e.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(1)
    click.echo(
        f"Конфигурация в порядке: {len(cfg.taxonomy.sectors)} направлений, "
        f"{sum(len(s.categories) for s in cfg.taxonomy.sectors)} категорий, регионы: {', '.join(sorted(cfg.regions))}; "
        f"активный регион: {cfg.settings.region}."
    )


if __name__ == "__main__":
    main()
