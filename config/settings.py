"""Runtime settings: a YAML file plus ``CUR_*`` environment overrides.

Order of precedence (later wins): built-in defaults, the settings file
(``CUR_SETTINGS`` or ``./cur.yaml`` when present), environment variables.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError, ConfigIssue, pydantic_reason
from .yamlfile import dotted, line_of, load_yaml

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_SETTINGS_FILE = "cur.yaml"


class VkToken(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["user", "group", "service"]
    token: Annotated[str, Field(min_length=1)]
    #: Requests per second; defaults by kind (user 3, group 20, service 5).
    rate: Annotated[float, Field(gt=0, le=100)] | None = None

    @property
    def requests_per_second(self) -> float:
        if self.rate is not None:
            return self.rate
        return {"user": 3.0, "group": 20.0, "service": 5.0}[self.kind]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    database_url: str = "sqlite:///cur.db"
    region: str = "kuzbass"
    #: Every region this deployment serves (``cur run``, ``cur process``, the web): region codes, or ``[all]`` for
    #: every loaded profile. Empty (the default): only ``region``. ``region`` is always served and is the region of
    #: sources and posts stored without one; in the environment a comma-separated list (``CUR_REGIONS=kuzbass,pskov``).
    regions: list[str] = []
    #: Directory with taxonomy.yaml, deadlines.yaml and regions/*.yaml.
    config_dir: Path = PACKAGE_DIR
    #: Extra directory of operator-added region profiles (same format).
    regions_dir: Path | None = None

    vk_api_url: str = "https://api.vk.ru/method/"
    vk_api_version: str = "5.199"
    vk_tokens: list[VkToken] = []

    telegram_web_url: str = "https://t.me"
    telegram_api_id: int | None = None
    telegram_api_hash: str | None = None
    telegram_session: str | None = None

    telegram_bot_api_url: str = "https://api.telegram.org"
    telegram_bot_token: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "cur-monitor@localhost"
    webhook_secret: str | None = None

    #: Directory for model artefacts (defaults to the shipped classifier_models/).
    models_dir: Path | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    secret_key: str | None = None
    #: Session cookies carry ``Secure`` (set when users reach the site over HTTPS, e.g. behind a TLS proxy).
    web_secure_cookies: bool = False
    #: Addresses or networks of reverse proxies whose ``X-Forwarded-For`` names the client (``cur serve --behind-proxy``);
    #: in the environment a comma-separated list, e.g. ``CUR_WEB_TRUSTED_PROXIES=127.0.0.1,10.0.0.0/24``.
    web_trusted_proxies: list[str] = []
    #: RabbitMQ of the workers (``amqp://user:password@host:5672/vhost``): when set, ``cur run`` sends crawls,
    #: processing batches and deliveries to ``cur worker`` processes as tasks instead of running them itself.
    broker_url: str | None = None
    #: Prefix of the workers' queue names (``<namespace>.crawl|process|deliver``): deployments sharing one RabbitMQ differ here.
    broker_namespace: str = "cur"

    @field_validator("broker_url")
    @classmethod
    def _broker(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("amqp://", "amqps://")):
            raise ValueError("only amqp:// and amqps:// (RabbitMQ) URLs are supported")
        return v or None

    @field_validator("broker_namespace")
    @classmethod
    def _namespace(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", v):
            raise ValueError("only Latin letters, digits, '_', '.' and '-' (1 to 64)")
        return v

    @field_validator("database_url")
    @classmethod
    def _db(cls, v: str) -> str:
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError("only sqlite:/// and postgresql:// URLs are supported")
        return v

    @field_validator("web_trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an IP address or network: {item!r}") from None
        return v

    @field_validator("vk_api_url", "telegram_web_url", "telegram_bot_api_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not (v.startswith("http://") or v.startswith("https://")):
            raise ValueError(f"not an http(s) URL: {v!r}")
        return v


#: Environment variable -> settings key. Everything documented in README.
ENV_KEYS: dict[str, str] = {f"CUR_{name.upper()}": name for name in Settings.model_fields}


def parse_vk_tokens(value: str) -> list[dict[str, Any]]:
    """``kind:token[@rate]`` items separated by commas, e.g. ``user:abc,group:def@10``."""
    out = []
    for item in filter(None, (p.strip() for p in value.split(","))):
        kind, sep, rest = item.partition(":")
        if not sep:
            raise ValueError(f"VK token {item[:12]!r}… must look like kind:token (kind is user, group or service)")
        token, at, rate = rest.rpartition("@") if "@" in rest else (rest, "", "")
        out.append({"kind": kind, "token": token, **({"rate": rate} if at else {})})
    return out


def load_settings(env: Mapping[str, str] | None = None, file: str | Path | None = None) -> Settings:
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    lines: dict = {}
    name = "<defaults>"
    path = Path(file) if file else Path(env["CUR_SETTINGS"]) if env.get("CUR_SETTINGS") else None
    if path is None and Path(DEFAULT_SETTINGS_FILE).exists():
        path = Path(DEFAULT_SETTINGS_FILE)
    if path is not None:
        name = str(path)
        loaded, lines = load_yaml(path)
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError([ConfigIssue(name, "", "the settings file must be a mapping of keys to values")])
        data.update(loaded or {})
    from_env: set[str] = set()
    issues: list[ConfigIssue] = []
    for var, key in ENV_KEYS.items():
        if var in env and var != "CUR_SETTINGS":
            value: Any = env[var]
            if key in ("web_trusted_proxies", "regions"):
                value = [p.strip() for p in value.split(",") if p.strip()]
            if key == "vk_tokens":
                try:
                    value = parse_vk_tokens(value)
                except ValueError as e:
                    issues.append(ConfigIssue("environment", var, str(e)))
                    continue
            data[key] = value
            from_env.add(key)
    if issues:
        raise ConfigError(issues)
    try:
        return Settings(**data)
    except ValidationError as e:
        for err in e.errors():
            loc = tuple(err["loc"])
            if loc and loc[0] in from_env:
                issues.append(ConfigIssue("environment", f"CUR_{str(loc[0]).upper()}", pydantic_reason(err)))
            else:
                issues.append(ConfigIssue(name, dotted(loc), pydantic_reason(err), line_of(lines, loc)))
        raise ConfigError(issues) from None
