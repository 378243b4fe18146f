"""Typed settings with one precedence: flag, environment, ``veedel.toml``, default.

A flag reaches the settings as a keyword argument of :func:`get_settings`. An
environment variable is named ``VEEDEL_<FIELD>`` (``VEEDEL_WAREHOUSE_URL``); a
product section is read with :func:`load_section`, whose fields come from
``VEEDEL_<SECTION>__<FIELD>`` and from the ``[<section>]`` table of the file.
The file is ``./veedel.toml`` unless ``VEEDEL_CONFIG`` names another.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from veedel.errors import ConfigError

__all__ = ["Settings", "config_path", "get_settings", "load_section", "secret_key"]

M = TypeVar("M", bound=BaseModel)


def config_path() -> Path:
    """The settings file: ``$VEEDEL_CONFIG`` or ``./veedel.toml``."""
    return Path(os.environ.get("VEEDEL_CONFIG", "veedel.toml"))


class Settings(BaseSettings):
    """Settings shared by every product.

    Examples
    --------
    >>> Settings(data_dir=Path("/tmp/x")).resolved_warehouse_url()
    'duckdb:///tmp/x/warehouse.duckdb'
    """

    model_config = SettingsConfigDict(
        env_prefix="VEEDEL_", extra="ignore", validate_default=True
    )

    data_dir: Path = Path("veedel-data")
    warehouse_url: str | None = None
    store_url: str | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str | None = None
    #: Largest JSON or form request body the web app reads (1 MiB); an image
    #: upload has its own limit, ``[images] max_bytes``.
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_not_empty(cls, value: Any) -> Any:
        # An empty VEEDEL_DATA_DIR would silently put every file in the cwd.
        if isinstance(value, str) and not value.strip():
            raise ValueError("must name a folder, not be empty")
        return Path(value).expanduser() if isinstance(value, str | Path) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, toml)

    def resolved_warehouse_url(self) -> str:
        """The warehouse URL; a DuckDB file in the data folder by default."""
        if self.warehouse_url:
            return self.warehouse_url
        return f"duckdb://{self.data_dir / 'warehouse.duckdb'}"

    def resolved_store_url(self) -> str:
        """The application store URL; a SQLite file in the data folder by default."""
        if self.store_url:
            return self.store_url
        return f"sqlite:///{self.data_dir / 'store.sqlite'}"


def secret_key(settings: Settings) -> str:
    """The key that signs session cookies: the setting, else a file in data_dir.

    The file is created once with a random key, so sessions survive restarts.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def get_settings(**flags: Any) -> Settings:
    """Settings from flags (keyword arguments that are not None), env and file."""
    given = {key: value for key, value in flags.items() if value is not None}
    # Read the file once here so a broken one is a ConfigError naming it.
    _read_config(config_path())
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise _config_error(exc, "settings") from None


def _read_config(path: Path) -> dict[str, Any]:
    """The parsed settings file, {} when there is none."""
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path),
            "must be UTF-8 text",
            exc.object[exc.start : exc.start + 4],
            fix="Save the file as UTF-8.",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            str(path), "must be valid TOML", str(exc), fix="Fix the file."
        ) from None


def load_section(name: str, model: type[M], **flags: Any) -> M:
    """Read the ``[name]`` section of the settings into ``model``.

    Precedence is the same as for :class:`Settings`: flags, then
    ``VEEDEL_<NAME>__<FIELD>`` environment variables, then the file, then the
    model's defaults.
    """
    values: dict[str, Any] = {}
    path = config_path()
    section = _read_config(path).get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(
            f"[{name}]",
            "must be a table of settings",
            section,
            where=str(path),
            fix=f"Write the settings under a [{name}] heading.",
        )
    values.update(section)
    prefix = f"VEEDEL_{name.upper()}__"
    for key, value in os.environ.items():
        if key.startswith(prefix):
            values[key[len(prefix) :].lower()] = value
    values.update({key: value for key, value in flags.items() if value is not None})
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise _config_error(exc, f"[{name}]") from None


def _config_error(exc: ValidationError, where: str) -> ConfigError:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "value"
    return ConfigError(
        field,
        f"must satisfy: {first['msg']}",
        first.get("input"),
        where=where,
        fix="Correct the flag, the VEEDEL_* variable or veedel.toml.",
    )
