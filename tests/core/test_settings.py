import os
from pathlib import Path

import pytest

from core.settings import Settings, SettingsError, settings_from_mappings


def test_defaults_match_the_documented_politeness_settings():
    s = Settings()
    assert (s.host_delay, s.host_concurrency, s.robots, s.max_new_per_feed) == (1.0, 2, True, 500)
    assert s.warehouse_path == Path("warehouse/news.sqlite")
    assert "wirehouse" in s.user_agent and "http" in s.user_agent


def test_environment_overrides_file_and_overrides_win():
    s = settings_from_mappings(
        {"host_delay": 3, "batch_size": 10},
        {
            "WIREHOUSE_HOST_DELAY": "0.5",
            "WIREHOUSE_ROBOTS": "off",
            "WIREHOUSE_ALLOW_PRIVATE_HOSTS": "127.0.0.1, LocalHost",
        },
        {"batch_size": 7, "warehouse_path": None},
    )
    assert s.host_delay == 0.5
    assert s.robots is False
    assert s.batch_size == 7
    assert s.allow_private_hosts == frozenset({"127.0.0.1", "localhost"})


def test_warehouse_short_name():
    assert settings_from_mappings({}, {"WIREHOUSE_WAREHOUSE": "/tmp/x.duckdb"}).warehouse_path == Path(
        "/tmp/x.duckdb"
    )


@pytest.mark.parametrize(
    ("file_values", "env"),
    [
        ({}, {"WIREHOUSE_HOST_DELAY": "soon"}),
        ({}, {"WIREHOUSE_ROBOTS": "maybe"}),
        ({"nope": 1}, {}),
        ({}, {"WIREHOUSE_BATCH_SIZE": "-1"}),
        ({}, {"WIREHOUSE_WAREHOUSE_MEMORY_MB": "1"}),  # DuckDB could not even import a feed list
        ({}, {"WIREHOUSE_WAREHOUSE_MEMORY_MB": "256MB"}),
    ],
)
def test_bad_values_raise_a_settings_error(file_values, env):
    with pytest.raises(SettingsError):
        settings_from_mappings(file_values, env)


def test_malloc_arenas_are_capped_unless_the_user_chose(monkeypatch):
    import platform

    from core.settings import limit_malloc_arenas

    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert limit_malloc_arenas() is False  # the user's own setting wins
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    if platform.libc_ver()[0] == "glibc":
        assert limit_malloc_arenas() is True


def test_exported_settings_are_undone_after_the_block(monkeypatch):
    import os

    from core.settings import exported_settings

    monkeypatch.setenv("WIREHOUSE_HOST_DELAY", "2.5")
    monkeypatch.delenv("WIREHOUSE_ALLOW_PRIVATE_HOSTS", raising=False)
    with exported_settings(host_delay=0, allow_private_hosts=("127.0.0.1",)):
        assert os.environ["WIREHOUSE_HOST_DELAY"] == "0"
        assert os.environ["WIREHOUSE_ALLOW_PRIVATE_HOSTS"] == "127.0.0.1"
    assert os.environ["WIREHOUSE_HOST_DELAY"] == "2.5"
    assert "WIREHOUSE_ALLOW_PRIVATE_HOSTS" not in os.environ


def test_warehouse_memory_is_capped_by_default_and_zero_means_duckdbs_own():
    assert Settings().warehouse_memory_mb == 256
    assert settings_from_mappings({}, {"WIREHOUSE_WAREHOUSE_MEMORY_MB": "0"}).warehouse_memory_mb == 0
    assert settings_from_mappings({"warehouse_memory_mb": 64}, {}).warehouse_memory_mb == 64


def test_arrow_uses_the_system_allocator_unless_the_user_chose(monkeypatch):
    from core.settings import apply_prefect_defaults

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    apply_prefect_defaults()
    assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "system"
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    apply_prefect_defaults()
    assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == "mimalloc"


def test_a_postgresql_url_becomes_a_catalog_address_that_survives_being_a_path():
    from core.settings import postgres_conninfo

    settings = settings_from_mappings(
        {}, {"WIREHOUSE_WAREHOUSE": "postgresql://u:p%20w@db.example:5433/lake"}
    )
    assert (
        str(settings.warehouse_path)
        == "postgres:host='db.example' port='5433' user='u' password='p w' dbname='lake'"
    )
    assert (
        postgres_conninfo("postgres://db/lake?sslmode=require")
        == "postgres:host='db' dbname='lake' sslmode='require'"
    )
    assert (
        settings_from_mappings({}, {"WIREHOUSE_DATA_PATH": "s3://bucket/lake/"}).data_path
        == "s3://bucket/lake/"
    )


def test_raw_html_is_kept_always_unless_a_retention_of_whole_days_is_set():
    assert settings_from_mappings({}, {}).raw_html_days is None
    assert settings_from_mappings({}, {"WIREHOUSE_RAW_HTML_DAYS": "30"}).raw_html_days == 30
    assert settings_from_mappings({"raw_html_days": 7}, {}).raw_html_days == 7
    with pytest.raises(SettingsError, match="at least 1 day"):
        settings_from_mappings({}, {"WIREHOUSE_RAW_HTML_DAYS": "0"})


def test_recheck_ages_read_units_seconds_and_off():
    assert Settings().recheck_after == (3600.0, 21600.0, 86400.0, 259200.0)
    assert settings_from_mappings({}, {"WIREHOUSE_RECHECK_AFTER": "5s, 2m,1h"}).recheck_after == (
        5.0,
        120.0,
        3600.0,
    )
    assert settings_from_mappings({"recheck_after": ["1", "2d"]}, {}).recheck_after == (1.0, 172800.0)
    assert settings_from_mappings({}, {"WIREHOUSE_RECHECK_AFTER": "off"}).recheck_after == ()


@pytest.mark.parametrize("value", ["1h,soon", "6h,1h", "-5s", "1w"])
def test_unusable_recheck_ages_are_one_clear_error(value):
    with pytest.raises(SettingsError, match="recheck_after") as caught:
        settings_from_mappings({}, {"WIREHOUSE_RECHECK_AFTER": value})
    assert "\n" not in str(caught.value)
