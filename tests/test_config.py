"""`cur config check` on the shipped configuration and on broken copies of it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from config import FIXED_SECTORS, ConfigError, load_configuration, load_settings
from tests.conftest import ROOT, run_cur

REGIONS = ("kuzbass", "altai", "pskov", "murmansk", "kherson")


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUR_")}
    env.update(extra)
    return env


@pytest.fixture
def cfg_dir(tmp_path: Path) -> Path:
    d = tmp_path / "cfg"
    (d / "regions").mkdir(parents=True)
    for name in ("taxonomy.yaml", "deadlines.yaml"):
        shutil.copy(ROOT / "config" / name, d / name)
    for f in (ROOT / "config" / "regions").glob("*.yaml"):
        shutil.copy(f, d / "regions" / f.name)
    return d


def check(cfg_dir: Path, tmp_path: Path, **extra: str):
    return run_cur(["config", "check"], env=env_with(CUR_CONFIG_DIR=str(cfg_dir), **extra), cwd=tmp_path)


def edit(path: Path, fn) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def line_containing(path: Path, needle: str) -> int:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return n
    raise AssertionError(needle)


def test_shipped_configuration_passes(tmp_path):
    r = run_cur(["config", "check"], env=env_with(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Конфигурация в порядке: 13 направлений" in r.stdout
    for code in REGIONS:
        assert code in r.stdout


def test_every_region_loads_with_its_blocks_and_roles():
    cfg = load_configuration(load_settings(env={}))
    assert set(REGIONS) <= set(cfg.regions)
    for code in REGIONS:
        profile = cfg.regions[code]
        region = profile.region
        covered = {s for b in region.blocks for s in b.sectors}
        active = {s for s in FIXED_SECTORS if s not in region.disabled_sectors}
        assert active <= covered, (code, active - covered)
        roles = {a.role.value for a in region.authorities}
        assert {"curator", "executive", "head", "media", "sector_head"} <= roles
        assert len(region.municipalities) >= 10
        assert all(m.variants for m in region.municipalities)


def test_syntax_error_names_file_and_line(cfg_dir, tmp_path):
    p = cfg_dir / "taxonomy.yaml"
    lines = p.read_text(encoding="utf-8").splitlines()
    lines.insert(5, "  - code: [unclosed")
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2
    assert f"{p}:" in r.stderr and "YAML syntax error" in r.stderr


def test_libyaml_and_the_pure_python_parser_read_every_file_alike(cfg_dir, tmp_path, monkeypatch):
    """The configuration is parsed by libyaml (ten times faster); a refused text is parsed again by the
    pure-Python parser, so data, lines and error messages are the ones the pure-Python parser gives."""
    from config import yamlfile

    assert yamlfile._Loader is yaml.CSafeLoader  # PyYAML was built with libyaml here
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: 1\nb:\n  - [unclosed\nc: 3\n", encoding="utf-8")
    files = [*sorted(cfg_dir.rglob("*.yaml")), broken]

    def read_all() -> list[object]:
        out: list[object] = []
        for f in files:
            try:
                out.append(yamlfile.load_yaml(f))
            except ConfigError as e:
                out.append(str(e))
        return out

    fast = read_all()
    monkeypatch.setattr(yamlfile, "_Loader", yaml.SafeLoader)
    assert fast == read_all()
    # libyaml's own words would be "did not find expected ',' or ']'"
    assert fast[-1] == f"{broken}:4: <root>: YAML syntax error: expected ',' or ']', but got ':'"


def test_misspelt_key_names_file_key_and_line(cfg_dir, tmp_path):
    p = cfg_dir / "regions" / "pskov.yaml"
    edit(p, lambda d: d["authorities"][0].update({"emial": "x@y.ru"}))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2
    assert f"{p}:{line_containing(p, 'emial')}: authorities[0].emial: Extra inputs are not permitted" in r.stderr


def test_missing_fixed_sector(cfg_dir, tmp_path):
    p = cfg_dir / "taxonomy.yaml"
    edit(p, lambda d: d.update(sectors=[s for s in d["sectors"] if s["code"] != "energy"]))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2 and f"{p}" in r.stderr and "sectors: fixed sector 'energy' is missing" in r.stderr


def test_sector_without_other_category_and_with_repeated_code(cfg_dir, tmp_path):
    p = cfg_dir / "taxonomy.yaml"

    def broken(d):
        cats = d["sectors"][0]["categories"]
        d["sectors"][0]["categories"] = [c for c in cats if c["code"] != "other"] + [dict(cats[0])]

    edit(p, broken)
    r = check(cfg_dir, tmp_path)
    assert "lacks the category 'other'" in r.stderr
    assert "is repeated in sector" in r.stderr


def test_unknown_authority_in_block(cfg_dir, tmp_path):
    p = cfg_dir / "regions" / "kuzbass.yaml"
    edit(p, lambda d: d["blocks"][0].update(head="nobody_here"))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2 and f"{p}" in r.stderr and "blocks[0].head: unknown authority 'nobody_here'" in r.stderr


def test_bad_time_zone(cfg_dir, tmp_path):
    p = cfg_dir / "regions" / "murmansk.yaml"
    edit(p, lambda d: d.update(timezone="Europe/Murmansk"))
    r = check(cfg_dir, tmp_path)
    assert "timezone: unknown time zone 'Europe/Murmansk'" in r.stderr and "Value error" not in r.stderr


def test_deadline_rule_with_two_amounts(cfg_dir, tmp_path):
    p = cfg_dir / "deadlines.yaml"
    edit(p, lambda d: d["rules"][0].update(days=2))
    r = check(cfg_dir, tmp_path)
    assert f"{p}" in r.stderr and "rules[0].days" in r.stderr and "exactly one of 'hours' or 'days'" in r.stderr


def test_region_code_must_match_file_and_routing_must_reference_known_things(cfg_dir, tmp_path):
    p = cfg_dir / "regions" / "altai.yaml"
    edit(p, lambda d: (d.update(code="altay"), d.setdefault("routing", []).append({"sector": "roads", "category": "no_such", "authority": "ghost"})))
    r = check(cfg_dir, tmp_path)
    assert "region code 'altay' must match the file name 'altai'" in r.stderr
    assert "has no category 'no_such'" in r.stderr and "unknown authority 'ghost'" in r.stderr


def test_bad_environment_values_are_named(cfg_dir, tmp_path):
    r = check(cfg_dir, tmp_path, CUR_DATABASE_URL="mysql://localhost/x")
    assert r.returncode == 2 and "environment: CUR_DATABASE_URL: only sqlite:/// and postgresql:// URLs are supported" in r.stderr
    assert "Value error" not in r.stderr  # pydantic's prefix is not for users
    r = check(cfg_dir, tmp_path, CUR_VK_TOKENS="abcdef")
    assert "CUR_VK_TOKENS" in r.stderr and "kind:token" in r.stderr
    r = check(cfg_dir, tmp_path, CUR_REGION="atlantis")
    assert "unknown region 'atlantis'" in r.stderr


def test_settings_file_and_environment_precedence(tmp_path):
    (tmp_path / "cur.yaml").write_text("region: pskov\nvk_tokens:\n  - {kind: group, token: g1}\n", encoding="utf-8")
    s = load_settings(env={"CUR_SETTINGS": str(tmp_path / "cur.yaml"), "CUR_VK_TOKENS": "user:u1,service:s1@20"})
    assert s.region == "pskov"
    assert [(t.kind, t.token, t.requests_per_second) for t in s.vk_tokens] == [("user", "u1", 3.0), ("service", "s1", 20.0)]
    assert s.database_url == "sqlite:///cur.db"


def test_a_bad_file_never_half_loads(cfg_dir):
    edit(cfg_dir / "regions" / "kherson.yaml", lambda d: d.update(municipalities=d["municipalities"][:3]))
    settings = load_settings(env={"CUR_CONFIG_DIR": str(cfg_dir), "CUR_REGION": "kherson"})
    with pytest.raises(ConfigError) as e:
        load_configuration(settings)
    assert any(i.key == "municipalities" and "at least 10" in i.reason for i in e.value.issues)


def test_a_broken_inactive_region_is_a_warning_but_config_check_fails(cfg_dir, tmp_path):
    """An operator's typo in a region that is not the active one must not stop every command."""
    edit(cfg_dir / "regions" / "kherson.yaml", lambda d: d.update(municipalities=d["municipalities"][:3]))
    cfg = load_configuration(load_settings(env={"CUR_CONFIG_DIR": str(cfg_dir), "CUR_REGION": "kuzbass"}))
    assert cfg.region.code == "kuzbass" and "kherson" not in cfg.regions
    assert any(i.key == "municipalities" and "at least 10" in i.reason for i in cfg.broken_regions)
    r = check(cfg_dir, tmp_path, CUR_REGION="kuzbass")
    assert r.returncode == 2 and "kherson.yaml" in r.stderr and "at least 10" in r.stderr


def test_operator_adds_a_region_from_their_own_directory(cfg_dir, tmp_path):
    extra = tmp_path / "my_regions"
    extra.mkdir()
    data = yaml.safe_load((ROOT / "config" / "regions" / "pskov.yaml").read_text(encoding="utf-8"))
    data.update(code="novgorod", name="Новгородская область", short_name="Новгород")
    (extra / "novgorod.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    r = run_cur(["config", "check"], env=env_with(CUR_REGIONS_DIR=str(extra), CUR_REGION="novgorod"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "активный регион: novgorod" in r.stdout


# --------------------------------------------------------------------------- deadline calendars and policy checks


def default_policy() -> dict:
    return yaml.safe_load((ROOT / "config" / "deadlines.yaml").read_text(encoding="utf-8"))


def set_line(path: Path, prefix: str, new: str) -> int:
    """Replace the line starting with ``prefix``; return its number."""
    lines = path.read_text(encoding="utf-8").splitlines()
    n = next(i for i, line in enumerate(lines) if line.startswith(prefix))
    lines[n] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return n + 1


def test_impossible_date_in_the_calendar_names_file_line_and_key(cfg_dir, tmp_path):
    p = cfg_dir / "deadlines.yaml"
    n = set_line(p, "  extra_days_off:", "  extra_days_off: [2026-03-20, 2026-02-30]")
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2
    assert f"{p}:{n}: working_time.extra_days_off[1]: invalid value '2026-02-30': day is out of range for month" in r.stderr


def test_region_calendar_override_is_loaded_and_checked(cfg_dir, tmp_path):
    p = cfg_dir / "regions" / "kuzbass.yaml"
    policy = default_policy()
    policy["working_time"].update(
        extra_days_off=["2026-03-20", "2026-05-27"],  # Ураза-байрам, Курбан-байрам
        extra_working_days=["2026-03-21"],
        short_days=["2026-03-19"],
    )
    edit(p, lambda d: d.update(deadlines=policy))
    cfg = load_configuration(load_settings(env={"CUR_CONFIG_DIR": str(cfg_dir)}))
    wt = cfg.regions["kuzbass"].deadlines.working_time
    assert [d.isoformat() for d in wt.extra_days_off] == ["2026-03-20", "2026-05-27"]
    assert [d.isoformat() for d in wt.short_days] == ["2026-03-19"]
    assert cfg.regions["pskov"].deadlines.working_time.extra_days_off == []  # others keep the default
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Предупреждение" not in r.stderr

    # a date that is no date, a date listed twice, a day both off and worked
    def broken(d):
        wt = d["deadlines"]["working_time"]
        wt["extra_days_off"] = ["20.03.2026", "2026-05-27", "2026-05-27"]
        wt["extra_working_days"] = ["2026-05-27"]

    edit(p, broken)
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2
    assert f"{p}:{line_containing(p, '20.03.2026')}: deadlines.working_time.extra_days_off[0]: Input should be a valid date" in r.stderr
    edit(p, lambda d: d["deadlines"]["working_time"]["extra_days_off"].pop(0))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2
    assert "deadlines.working_time.extra_days_off[1]: 2026-05-27 is listed twice in extra_days_off" in r.stderr
    line = line_containing(p, "extra_working_days") + 1  # the list item under the key
    assert (f"{p}:{line}: deadlines.working_time.extra_working_days[0]: 2026-05-27 is also listed in "
            "extra_days_off: a day is either off or worked") in r.stderr


def test_config_check_warns_when_rules_put_a_stage_before_the_previous_one(cfg_dir, tmp_path):
    # the old default: interim 24 calendar hours after routing, first reply 8 working hours after it
    p = cfg_dir / "deadlines.yaml"
    set_line(p, "  - {stage: interim, hours:", "  - {stage: interim, hours: 24, clock: calendar, after: routed}")
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 0, r.stderr  # a warning, not an error: the guard raises such a due time
    warnings = [line for line in r.stderr.splitlines() if line.startswith("Предупреждение:")]
    assert len(warnings) == 1, r.stderr
    w = warnings[0]
    assert f"{p}: rules: для обычных инцидентов промежуточный ответ может быть назначен раньше, чем первичный ответ" in w
    assert "например: направлен 30.04.2026 10:00, первичный ответ — до 04.05.2026 10:00, промежуточный ответ — до 01.05.2026 10:00" in w
    assert "Asia/Novokuznetsk" in w and "after: first_reply" in w
    # the shipped default says nothing
    r = run_cur(["config", "check"], env=env_with(), cwd=tmp_path)
    assert r.returncode == 0 and "Предупреждение" not in r.stderr


def test_config_check_warns_about_calendar_days_that_change_nothing(cfg_dir, tmp_path):
    p = cfg_dir / "regions" / "murmansk.yaml"
    policy = default_policy()
    policy["working_time"].update(extra_days_off=["2026-05-09"], short_days=["2026-03-21"])  # Victory Day; a Saturday
    edit(p, lambda d: d.update(deadlines=policy))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"Предупреждение: {p}: deadlines.working_time.extra_days_off: 2026-05-09 — уже выходной по производственному календарю." in r.stderr
    assert f"Предупреждение: {p}: deadlines.working_time.short_days: 2026-03-21 — нерабочий день, сокращать нечего." in r.stderr


def test_municipality_centroids_are_checked(cfg_dir, tmp_path):
    """Centroids (the dashboard's map): every shipped region has them; a swapped pair, a missing one or a latitude of 95 is refused."""
    for code in REGIONS:
        assert all(m.centroid is not None for m in load_configuration().regions[code].region.municipalities), code
    p = cfg_dir / "regions" / "pskov.yaml"
    edit(p, lambda d: d["municipalities"][1].update(centroid=[30.52, 56.34]))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2 and "velikie_luki is far from the others" in r.stderr
    edit(p, lambda d: d["municipalities"][1].update(centroid=None))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2 and "centroid missing for municipalities velikie_luki" in r.stderr
    edit(p, lambda d: d["municipalities"][1].update(centroid=[95, 30.5]))
    r = check(cfg_dir, tmp_path)
    assert r.returncode == 2 and "centroid" in r.stderr
