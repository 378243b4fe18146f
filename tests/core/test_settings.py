"""Settings: flag, then environment, then veedel.toml, then default."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from veedel.errors import ConfigError
from veedel.settings import get_settings, load_section, secret_key


def _write_config(text: str) -> None:
    import os

    Path(os.environ["VEEDEL_CONFIG"]).write_text(text, encoding="utf-8")


def test_settings_precedence_flag_over_env_over_file_over_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each source wins over every source after it."""
    monkeypatch.delenv("VEEDEL_DATA_DIR")
    assert get_settings().port == 8000

    _write_config("port = 8100\n")
    assert get_settings().port == 8100

    monkeypatch.setenv("VEEDEL_PORT", "8200")
    assert get_settings().port == 8200

    assert get_settings(port=8300).port == 8300
    assert get_settings(port=None).port == 8200


def test_default_urls_live_in_the_data_folder(tmp_path: Path) -> None:
    """Warehouse and store default to files under data_dir."""
    settings = get_settings(data_dir=tmp_path / "d")
    assert (
        settings.resolved_warehouse_url() == f"duckdb://{tmp_path}/d/warehouse.duckdb"
    )
    assert settings.resolved_store_url() == f"sqlite:///{tmp_path}/d/store.sqlite"


def test_bad_setting_names_field_rule_and_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A wrong type is a ConfigError naming the field and the value."""
    monkeypatch.setenv("VEEDEL_PORT", "eighty")
    with pytest.raises(ConfigError, match=r"port .*'eighty'"):
        get_settings()


class _Section(BaseModel):
    threshold: float = 0.5
    name: str = "x"


def test_section_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    """A product section reads the file's table and VEEDEL_<SECTION>__ variables."""
    assert load_section("images", _Section).threshold == 0.5
    _write_config("[images]\nthreshold = 0.7\nname = 'file'\n")
    assert load_section("images", _Section) == _Section(threshold=0.7, name="file")
    monkeypatch.setenv("VEEDEL_IMAGES__THRESHOLD", "0.9")
    assert load_section("images", _Section).threshold == 0.9
    assert load_section("images", _Section, threshold=0.1).threshold == 0.1


def test_broken_toml_is_a_config_error() -> None:
    """A syntax error in veedel.toml names the file."""
    _write_config("[images\n")
    with pytest.raises(ConfigError, match=r"veedel\.toml must be valid TOML"):
        load_section("images", _Section)


def test_secret_key_is_created_once_and_kept(tmp_path: Path) -> None:
    """Without a configured key, one random key is stored and reused."""
    settings = get_settings(data_dir=tmp_path)
    first = secret_key(settings)
    assert len(first) > 40
    assert secret_key(settings) == first
    assert secret_key(get_settings(data_dir=tmp_path, secret_key="k" * 10)) == "k" * 10
