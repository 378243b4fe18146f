"""Settings from a broken veedel.toml or bad variables: a ConfigError, never a crash."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from veedel.cli.main import app
from veedel.errors import ConfigError
from veedel.settings import get_settings, load_section

runner = CliRunner()


class _Section(BaseModel):
    threshold: float = 0.5


def _config() -> Path:
    return Path(os.environ["VEEDEL_CONFIG"])


def test_broken_toml_is_a_config_error_for_the_shared_settings() -> None:
    """A syntax error in veedel.toml names the file and the TOML problem."""
    _config().write_text("warehouse_url = [\n", encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        get_settings()

    assert str(_config()) in str(caught.value)
    assert "valid TOML" in str(caught.value)


@pytest.mark.parametrize("read", [get_settings, lambda: load_section("x", _Section)])
def test_toml_that_is_not_utf8_is_a_config_error(read: object) -> None:
    """A veedel.toml saved as UTF-16 or Latin-1 is refused naming the encoding."""
    _config().write_bytes("port = 8100 # Grüße\n".encode("utf-16"))

    with pytest.raises(ConfigError, match="UTF-8"):
        read()  # type: ignore[operator]


def test_section_that_is_not_a_table_is_a_config_error() -> None:
    """``images = 5`` instead of an ``[images]`` table is named, not ignored."""
    _config().write_text("x = 5\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"\[x\]"):
        load_section("x", _Section)


def test_cli_reports_a_broken_toml_in_one_line_with_exit_two(tmp_path: Path) -> None:
    """Any command reading settings prints the error and exits 2, no traceback."""
    _config().write_text("port = \n", encoding="utf-8")

    result = runner.invoke(app, ["warehouse", "summary"])

    assert result.exit_code == 2, result.output
    assert "valid TOML" in result.output
    assert not isinstance(result.exception, AssertionError)
    assert "Traceback" not in result.output


def test_bad_environment_value_on_the_cli_names_the_variable_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """VEEDEL_PORT=eighty on the command line is one error naming port and value."""
    monkeypatch.setenv("VEEDEL_MAX_REQUEST_BYTES", "ten")

    result = runner.invoke(app, ["warehouse", "summary"])

    assert result.exit_code == 2, result.output
    assert "max_request_bytes" in result.output and "'ten'" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "field"),
    [
        ("VEEDEL_PORT", "99999", "port"),
        ("VEEDEL_PORT", "-1", "port"),
        ("VEEDEL_MAX_REQUEST_BYTES", "0", "max_request_bytes"),
        ("VEEDEL_LOG_LEVEL", "LOUD", "log_level"),
        ("VEEDEL_DATA_DIR", "", "data_dir"),
    ],
)
def test_out_of_range_settings_are_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, field: str
) -> None:
    """A port outside 1..65535, a zero upload limit, an unknown log level or an
    empty data folder is a ConfigError naming the field and the value."""
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError) as caught:
        get_settings()

    assert caught.value.field == field
    assert repr(value) in str(caught.value)


def test_data_dir_with_a_tilde_means_the_home_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """~/veedel-data is under $HOME, not a folder named '~' in the working dir."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VEEDEL_DATA_DIR", "~/veedel-data")

    assert get_settings().data_dir == tmp_path / "veedel-data"
