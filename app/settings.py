"""The one typed settings class, its TOML file, and where Omnidesk keeps things.

Priority: environment (``OMNIDESK_SECTION__KEY``) over the TOML file in the user's config dir over
defaults. A corrupt file is moved aside (kept, never deleted) and defaults are used with a warning. The
file and its folder are private to the person (0600 / 0700, tightened if an older version left them wider).

The remote engine's API key is not kept here: it lives in the system keyring (``runtime/api_keys.py``).
A key an older version wrote into the file is moved into the keyring when settings are loaded with a key
store (the CLI and the GUI do); saving never writes the key it has in memory (from the environment, say),
only keeps one the file already holds because no keyring could take it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import platformdirs
import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from omnidesk.agent.config import AgentConfig, ReplayConfig, SafetyConfig
from omnidesk.agent.errors import ConfigError
from omnidesk.agent.private_files import private_dir, write_private
from omnidesk.runtime.config import (
    AccessibilityConfig,
    AudioConfig,
    CaptureConfig,
    EvsConfig,
    ModelConfig,
    RecordingConfig,
)

__all__ = [
    "SCHEMA_VERSION",
    "ApiKeys",
    "AppPaths",
    "GuiConfig",
    "HotkeyConfig",
    "Settings",
    "environment_keys",
    "load_settings",
    "remote_api_key",
    "save_settings",
    "set_value",
]

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
APP_NAME = "omnidesk"


@dataclass(frozen=True, slots=True)
class AppPaths:
    """Directories Omnidesk uses; ``from_environment`` is the one place that reads them from env."""

    config_dir: Path
    data_dir: Path
    runtime_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.toml"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def automations_dir(self) -> Path:
        return self.data_dir / "automations"

    @property
    def taught_dir(self) -> Path:
        """Replay bundles of the automations taught by showing (``omnidesk teach``, "Show me")."""
        return self.data_dir / "taught"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs" / "omnidesk.log"

    def make_private(self) -> None:
        """Create the config and data folders private to the person (0700), tightening older wider ones:
        they hold the settings, the runs' screenshots, recordings and logs."""
        for folder in (self.config_dir, self.data_dir):
            try:
                private_dir(folder)
            except OSError as exc:  # not there and cannot be made: whatever writes there says so
                log.log(
                    logging.WARNING if folder.exists() else logging.INFO,
                    "cannot make %s private to you (%s); check its owner and permissions",
                    folder,
                    exc,
                )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> AppPaths:
        env = os.environ if environ is None else environ
        config = env.get("OMNIDESK_CONFIG_DIR") or platformdirs.user_config_dir(APP_NAME)
        data = env.get("OMNIDESK_DATA_DIR") or platformdirs.user_data_dir(APP_NAME)
        runtime = env.get("OMNIDESK_RUNTIME_DIR")
        if runtime:
            runtime_dir = Path(runtime)
        elif env.get("XDG_RUNTIME_DIR"):
            runtime_dir = Path(env["XDG_RUNTIME_DIR"]) / APP_NAME
        else:  # no session runtime dir (cron, ssh): a private folder in /tmp
            runtime_dir = Path(tempfile.gettempdir()) / f"{APP_NAME}-{os.getuid()}"
        return cls(Path(config), Path(data), runtime_dir)


class HotkeyConfig(BaseModel):
    """Global hotkeys (pynput syntax with ``+``); bindings must not collide."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kill_switch: str = Field(default="ctrl+alt+shift+k", description="Stops everything at once.")
    pause_resume: str = Field(default="ctrl+alt+shift+p")
    push_to_talk: str = Field(default="ctrl+alt+shift+space", description="Hold to talk.")
    show_hide: str = Field(default="ctrl+alt+shift+o")
    teach: str = Field(default="ctrl+alt+shift+m", description="Start teaching by showing (Show me), and stop it.")
    what_happened: str = Field(
        default="ctrl+alt+shift+w",
        description="Ask what happened in the last minutes of the newest recording; hold it to ask by voice.",
    )
    automations: dict[str, str] = Field(default_factory=dict, description="hotkey -> automation name.")

    @field_validator("kill_switch", "pause_resume", "push_to_talk", "show_hide", "teach", "what_happened")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        value = value.strip().lower()
        if not value:
            raise ValueError("a hotkey cannot be empty")
        return value

    @model_validator(mode="after")
    def _no_conflicts(self) -> HotkeyConfig:
        self.bindings()
        return self

    def bindings(self) -> dict[str, str]:
        """Every binding as normalised combination -> purpose; raises ValueError on a conflict."""
        seen: dict[str, str] = {}
        pairs = [
            ("kill_switch", self.kill_switch),
            ("pause_resume", self.pause_resume),
            ("push_to_talk", self.push_to_talk),
            ("show_hide", self.show_hide),
            ("teach", self.teach),
            ("what_happened", self.what_happened),
            *[(f"automation:{name}", key) for key, name in self.automations.items()],
        ]
        for purpose, combo in pairs:
            key = "+".join(sorted(part.strip().lower() for part in combo.split("+")))
            if key in seen:
                raise ValueError(f"hotkey {combo!r} is bound to both {seen[key]} and {purpose}")
            seen[key] = purpose
        return seen


class GuiConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    preview_fps: float = Field(default=2.0, gt=0, le=30)
    hide_during_run: bool = Field(default=True, description="Get out of the way of a run on this monitor.")
    voice_countdown_seconds: float = Field(default=3.0, ge=0, le=30)


class Settings(BaseSettings):
    """Everything a user can set, in one typed place."""

    model_config = SettingsConfigDict(
        env_prefix="OMNIDESK_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    schema_version: int = SCHEMA_VERSION
    model: ModelConfig = Field(default_factory=ModelConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    evs: EvsConfig = Field(default_factory=EvsConfig)
    audio: AudioConfig = Field(default_factory=AudioConfig)
    recording: RecordingConfig = Field(default_factory=RecordingConfig)
    agent: AgentConfig = Field(default_factory=AgentConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    replay: ReplayConfig = Field(default_factory=ReplayConfig)
    hotkeys: HotkeyConfig = Field(default_factory=HotkeyConfig)
    gui: GuiConfig = Field(default_factory=GuiConfig)
    accessibility: AccessibilityConfig = Field(default_factory=AccessibilityConfig)

    read_environment: ClassVar[bool] = True
    """Whether ``OMNIDESK_*`` variables override the file (not when editing the file itself)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values come in as init kwargs; the environment wins over them.
        return (env_settings, init_settings) if cls.read_environment else (init_settings,)


def _from_unversioned(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0: files written before the schema was versioned have the same layout as version 1."""
    return data


# Each migration takes the raw TOML dict of version N and returns version N + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _from_unversioned}


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = int(data.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"the settings file has schema version {version}, newer than this Omnidesk ({SCHEMA_VERSION}); "
            "upgrade Omnidesk or move the file aside"
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    return data


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"])
        parts.append(f"{key}: {item['msg']}")
    return "; ".join(parts)


def _move_aside(path: Path) -> Path:
    n = 1
    while True:
        target = path.with_name(f"{path.name}.corrupt-{n}")
        if not target.exists():
            path.rename(target)
            return target
        n += 1


class _FileSettings(Settings):
    """Settings from the file and defaults only: what ``config set`` edits and saves."""

    read_environment: ClassVar[bool] = False


def _read_file(file: Path) -> dict[str, Any]:
    try:
        with file.open("rb") as fh:
            _tighten(fh.fileno(), file)
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        kept = _move_aside(file)
        log.warning("settings file %s is not valid TOML (%s); kept as %s, using defaults", file, exc, kept)
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read settings file {file}: {exc.strerror}; check its permissions") from exc


def _tighten(fd: int, file: Path) -> None:
    """An older version wrote the settings world-readable: make them the person's alone."""
    info = os.fstat(fd)
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        os.fchmod(fd, 0o600)
        log.info("made %s readable by you only", file)


class ApiKeys(Protocol):
    """Where remote engines' API keys are kept (``runtime/api_keys.ApiKeyStore``)."""

    def get(self, url: str) -> str | None: ...

    def set(self, url: str, key: str) -> None: ...


def remote_api_key(settings: Settings, keys: ApiKeys) -> str:
    """The API key for ``model.remote_url``: ``OMNIDESK_MODEL__REMOTE_API_KEY`` (or an older settings file
    not moved yet), else the one ``keys`` holds for that engine; empty without one (or without a keyring)."""
    section = settings.model
    if section.remote_api_key or not section.remote_url:
        return section.remote_api_key
    try:
        return keys.get(section.remote_url) or ""
    except ConfigError as exc:
        log.info("no API key from the keyring for the remote engine: %s", exc)
        return ""


def _move_api_key(data: dict[str, Any], file: Path, api_keys: ApiKeys) -> dict[str, Any]:
    """An older settings file's ``model.remote_api_key`` moved into the keyring (the file rewritten
    without it); left where it is, with a warning, when there is no keyring to take it."""
    model = data.get("model")
    if not isinstance(model, dict) or not model.get("remote_api_key"):
        return data
    key, url = model["remote_api_key"], model.get("remote_url")
    if not isinstance(key, str) or not isinstance(url, str) or not url:
        log.warning("%s holds model.remote_api_key but no model.remote_url; it stays there until one is set", file)
        return data
    try:
        api_keys.set(url, key)
    except ConfigError as exc:
        log.warning("the remote API key stays in %s (readable by you only): %s", file, exc)
        return data
    stripped = {**data, "model": {k: v for k, v in model.items() if k != "remote_api_key"}}
    try:
        write_private(file, tomli_w.dumps(stripped).encode("utf-8"))
    except OSError as exc:
        log.warning("the remote API key is in the keyring now, but %s could not be rewritten without it: %s", file, exc)
        return stripped
    log.info("moved the remote API key from %s into the system keyring", file)
    return stripped


def _file_api_key(file: Path) -> str:
    """The API key the settings file itself holds (one no keyring could take), or empty."""
    try:
        with file.open("rb") as fh:
            model = tomllib.load(fh).get("model")
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    key = model.get("remote_api_key") if isinstance(model, dict) else None
    return key if isinstance(key, str) else ""


def _store_api_key(url: str, key: str, api_keys: ApiKeys | None, file: Path) -> bool:
    """Put a new API key in the keyring; False (the caller keeps it in the private file) without one."""
    if api_keys is None or not url:
        log.warning("no keyring to take the remote engine's API key: it is kept in %s, readable by you only", file)
        return False
    try:
        api_keys.set(url, key)
    except ConfigError as exc:
        log.warning("%s; the key is kept in %s, readable by you only", exc, file)
        return False
    return True


def load_settings(paths: AppPaths, *, environment: bool = True, api_keys: ApiKeys | None = None) -> Settings:
    """Read settings; a corrupt file is kept aside and defaults are used; bad values name their key.

    With ``environment=False`` the ``OMNIDESK_*`` variables are ignored (for editing the file). With
    ``api_keys``, an API key an older version left in the file moves into the keyring.
    """
    file = paths.settings_file
    data = _migrate(_read_file(file))
    if api_keys is not None:
        data = _move_api_key(data, file, api_keys)
    try:
        return Settings(**data) if environment else _FileSettings(**data)
    except ValidationError as exc:
        raise ConfigError(
            f"invalid settings ({_describe(exc)}); fix them with `omnidesk config set KEY VALUE` or edit {file}"
        ) from exc


def save_settings(settings: Settings, paths: AppPaths, *, api_keys: ApiKeys | None = None) -> Path:
    """Write the settings as TOML atomically (a fresh 0600 file renamed over the old one).

    ``model.remote_api_key`` never lands in the file by being saved along: the file keeps the key it holds
    (one no keyring could take); a new key (the settings dialog, the first-run engine form) goes into
    ``api_keys`` for ``model.remote_url``, and only where there is no keyring into the private file, with
    a warning. An empty key leaves the keyring as it is.
    """
    file = paths.settings_file
    data = settings.model_dump(mode="json", exclude_none=True)
    key = data["model"].pop("remote_api_key")
    kept = _file_api_key(file)
    if "model.remote_api_key" in environment_keys():  # the environment's key is not the file's
        key = kept
    if key and (key == kept or not _store_api_key(settings.model.remote_url, key, api_keys, file)):
        data["model"]["remote_api_key"] = key
    try:
        private_dir(file.parent)
        write_private(file, tomli_w.dumps(data).encode("utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"cannot write settings to {file}: {exc.strerror}; make the directory writable or set OMNIDESK_CONFIG_DIR"
        ) from exc
    return file


def environment_keys(environ: Mapping[str, str] | None = None) -> set[str]:
    """The dotted keys (``model.mmproj``) that ``OMNIDESK_SECTION__KEY`` variables set: they win over the file,
    so the settings dialog shows them fixed instead of letting an edit be silently overridden."""
    env = os.environ if environ is None else environ
    keys = set()
    for name in env:
        upper = name.upper()
        if upper.startswith("OMNIDESK_") and "__" in upper:
            section, _, key = upper.removeprefix("OMNIDESK_").lower().partition("__")
            keys.add(f"{section}.{key}")
    return keys


def _parse_value(raw: str) -> Any:
    """Read a CLI value as TOML when it parses (numbers, booleans, lists), else as a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def set_value(settings: Settings, dotted_key: str, raw: str) -> Settings:
    """Return new settings with ``section.key`` set from text; errors name the key."""
    data = settings.model_dump(mode="python")
    parts = dotted_key.split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"unknown setting {'.'.join(parts[: i + 1])!r}; see `omnidesk config show`")
        node = node[part]
    if not isinstance(node, dict) or parts[-1] not in node:
        raise ConfigError(f"unknown setting {dotted_key!r}; see `omnidesk config show`")
    node[parts[-1]] = _parse_value(raw)
    try:
        return _FileSettings(**data)
    except ValidationError as exc:
        raise ConfigError(f"invalid value for {dotted_key}: {_describe(exc)}") from exc
