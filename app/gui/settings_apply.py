"""What a settings change means for the running window: which parts must be redone, said in words.

Nothing waits for a restart: a changed model is reloaded on the loader's worker (after the run in progress,
if there is one), changed hotkeys are registered again at once, everything a run reads — capture, video
sampling, the agent, the safety policy and its deny-list — is taken by the next run, the microphone is
opened again with changed audio settings (after the recording in progress), and the window's own settings
are read when used. (Only a window given a fixed microphone, as tests give one, keeps it.)
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from omnidesk.app.settings import ApiKeys, AppPaths, Settings, load_settings, save_settings

__all__ = ["SettingsChange", "for_the_file", "save_edited", "settings_change"]

# Model settings that do not change the loaded model: where downloads come from, which quantisation the
# next download takes, and which remote URLs the person already allowed.
_NOT_LOADED = frozenset({"hub_endpoint", "quant", "remote_confirmed"})
_PER_RUN = ("capture", "evs", "agent", "safety", "accessibility")


@dataclass(frozen=True, slots=True)
class SettingsChange:
    model: bool
    hotkeys: bool
    per_run: tuple[str, ...]
    other: bool
    audio: bool = False

    @property
    def any(self) -> bool:
        return self.model or self.hotkeys or bool(self.per_run) or self.other or self.audio

    def describe(self, *, running: bool, audio_live: bool = False) -> str:
        """One status line: what happens now and what at the next run."""
        if not self.any:
            return "Settings saved (nothing changed)"
        parts = []
        if self.model:
            parts.append("the model reloads after this run" if running else "the model is reloading")
        if self.hotkeys:
            parts.append("hotkeys are active now")
        if self.per_run:
            parts.append(f"changes to {', '.join(self.per_run)} apply from the next run")
        if self.other and not parts:
            parts.append("in effect now")
        if self.audio:
            parts.append(
                "the microphone uses the new audio settings from the next recording"
                if audio_live
                else "audio settings apply when Omnidesk starts next"
            )
        return "Settings saved: " + "; ".join(parts)


def settings_change(old: Settings, new: Settings) -> SettingsChange:
    """Compare two settings objects section by section."""
    old_model = old.model.model_dump(exclude=set(_NOT_LOADED))
    new_model = new.model.model_dump(exclude=set(_NOT_LOADED))
    per_run = tuple(name for name in _PER_RUN if getattr(old, name) != getattr(new, name))
    rest = ("recording", "gui")
    return SettingsChange(
        model=old_model != new_model,
        hotkeys=old.hotkeys != new.hotkeys,
        per_run=per_run,
        other=any(getattr(old, name) != getattr(new, name) for name in rest)
        or old.model.model_dump(include=set(_NOT_LOADED)) != new.model.model_dump(include=set(_NOT_LOADED)),
        audio=old.audio != new.audio,
    )


def for_the_file(edited: Settings, stored: Settings, fixed: Collection[str]) -> Settings:
    """What the settings file gets from a save: ``edited``, except the ``fixed`` keys (``model.mmproj``: set by
    ``OMNIDESK_*`` variables, which win anyway) keep the file's own values, so an environment's value (a
    one-off URL, a path on another machine) never lands in the file by being saved along."""
    data = edited.model_dump(mode="python")
    kept = stored.model_dump(mode="python")
    for key in fixed:
        section, _, name = key.partition(".")
        if isinstance(data.get(section), dict) and name in data[section] and name in kept.get(section, {}):
            data[section][name] = kept[section][name]
    return type(stored).model_validate(data)  # the file's own class: it reads no environment


def save_edited(
    edited: Settings, paths: AppPaths, fixed: Collection[str], api_keys: ApiKeys | None, *, forget_key: bool = False
) -> Settings:
    """Write the settings dialog's result and return the settings now in force: what a restart would read.

    The file gets :func:`for_the_file`; a typed API key goes into ``api_keys`` for the engine URL (see
    ``save_settings``) and is not kept in memory, where a later change of the URL would take it to another
    server. ``forget_key`` removes the key stored for the engine URL.

    Raises:
        ConfigError: the file could not be written, or the keyring refused.
    """
    stored = load_settings(paths, environment=False)
    save_settings(for_the_file(edited, stored, fixed), paths, api_keys=api_keys)
    if forget_key and api_keys is not None and edited.model.remote_url:
        api_keys.set(edited.model.remote_url, "")  # an empty key removes the stored one
    return load_settings(paths)
