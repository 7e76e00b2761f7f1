"""The one exception tree of Omnidesk.

Every error a user can meet says what happened and what to do next. Third-party errors are translated
into this tree at the runtime boundary (``raise ModelFileError(...) from exc``) so callers never catch
library-specific exceptions::

    OmnideskError
    ├── ConfigError                  invalid setting, unreadable/unwritable config
    ├── AlreadyRunningError          a second Omnidesk on this desktop
    ├── ModelError
    │   ├── ModelFileError           missing, truncated, corrupt or mismatched GGUF / mmproj
    │   ├── ModelCapabilityError     the loaded model cannot do this (e.g. audio without an audio mmproj)
    │   ├── ModelLoadError           llama.cpp refused the files, not enough memory
    │   ├── RemoteEngineError        an OpenAI-compatible engine failed (timeout, refused, 4xx/5xx)
    │   └── GenerationCancelled      a stop request ended the generation
    ├── ModelOutputError             the model's text is not a valid action (an observation, not a crash)
    ├── PerceptionError
    │   ├── NoDisplayError           no X11 display
    │   ├── WaylandSessionError      Wayland session: capture and input need X11 or the portal
    │   ├── CaptureError             the screen could not be grabbed
    │   ├── NoMicrophoneError        no PortAudio, no input device, device unplugged
    │   ├── RecordingError           disk full, unwritable directory, muxer failure
    │   │   └── RecordingReadError   a recording cannot be read back (empty, cut off, unknown codec)
    │   ├── AccessibilityError       no accessibility bus, or an application on it did not answer
    │   └── InputRecordingError      the person's own clicks and keys cannot be recorded (teach mode)
    ├── ActionError
    │   ├── CoordinateError          a point outside the captured image / monitor
    │   ├── InputError               the input device could not carry out an action
    │   └── TargetNotFoundError      a replayed step's recorded target is not on the screen now
    ├── SafetyStop                   the safety policy ended or refused a run (limit, kill switch, deny-list)
    └── EvalError                    an evaluation item could not be prepared (missing screenshot, set-up failed)
"""

from __future__ import annotations

__all__ = [
    "AccessibilityError",
    "ActionError",
    "AlreadyRunningError",
    "CaptureError",
    "ConfigError",
    "CoordinateError",
    "EvalError",
    "GenerationCancelled",
    "InputError",
    "InputRecordingError",
    "ModelCapabilityError",
    "ModelError",
    "ModelFileError",
    "ModelLoadError",
    "ModelOutputError",
    "NoDisplayError",
    "NoMicrophoneError",
    "OmnideskError",
    "PerceptionError",
    "RecordingError",
    "RecordingReadError",
    "RemoteEngineError",
    "SafetyStop",
    "TargetNotFoundError",
    "WaylandSessionError",
]


class OmnideskError(Exception):
    """Base of every error Omnidesk raises on purpose; ``str(err)`` is a message for the user."""


class ConfigError(OmnideskError):
    """A setting is invalid, or the settings file cannot be read or written."""


class AlreadyRunningError(OmnideskError):
    """Another Omnidesk already runs on this desktop (one model, one hotkey listener at a time)."""


class ModelError(OmnideskError):
    """Anything that goes wrong loading or running the omni model."""


class ModelFileError(ModelError):
    """A model file is missing, truncated, corrupt, of the wrong architecture, or does not match."""


class ModelCapabilityError(ModelError):
    """The loaded model cannot do what was asked (e.g. audio with a vision-only mmproj)."""


class ModelLoadError(ModelError):
    """llama.cpp refused to load the model or create a context (often: not enough memory)."""


class RemoteEngineError(ModelError):
    """An OpenAI-compatible engine did not answer properly."""


class GenerationCancelled(ModelError):
    """A stop request ended the generation; the session is usable again."""


class ModelOutputError(OmnideskError):
    """The model's output is not a valid action.

    This is the model's mistake, not Omnidesk's: the loop records it as an observation for the next step.
    """

    def __init__(self, message: str, raw_output: str = "") -> None:
        super().__init__(message)
        self.raw_output = raw_output


class PerceptionError(OmnideskError):
    """Screen or microphone could not be used."""


class NoDisplayError(PerceptionError):
    """No X11 display is reachable."""


class WaylandSessionError(PerceptionError):
    """The session is Wayland: capture and input injection need X11 (or the desktop portal)."""


class CaptureError(PerceptionError):
    """The screen could not be grabbed."""


class NoMicrophoneError(PerceptionError):
    """No microphone: PortAudio missing, no input device, or the device went away."""


class RecordingError(PerceptionError):
    """A recording could not be written (disk full, unwritable directory, muxer failure)."""


class RecordingReadError(RecordingError):
    """A recording (or a video file) cannot be read back: empty, cut off before its header, no video track,
    a codec this build cannot decode, or a time range outside it. Nothing of the recording is changed."""


class AccessibilityError(PerceptionError):
    """The accessibility bus (AT-SPI) is not there, or it or an application on it did not answer in time."""


class InputRecordingError(PerceptionError):
    """The person's own clicks and keys cannot be recorded (no X RECORD extension, the display went away)."""


class ActionError(OmnideskError):
    """An action could not be mapped or carried out."""


class CoordinateError(ActionError):
    """A point lies outside the image the model saw or outside every monitor."""


class InputError(ActionError):
    """The input device failed to carry out an action."""


class TargetNotFoundError(ActionError):
    """A replayed step's recorded target is not on the screen now: gone, changed, or there twice.

    The replay stops rather than click elsewhere; a taught automation may hand the rest to the model
    (``agent/replay_fallback.py``). ``step`` is the step's position in the replay script, once known.
    """

    def __init__(self, message: str, *, step: int | None = None) -> None:
        super().__init__(message)
        self.step = step


class SafetyStop(OmnideskError):
    """The safety policy stopped the run or refused an action."""

    def __init__(self, message: str, reason: str = "policy") -> None:
        super().__init__(message)
        self.reason = reason


class EvalError(OmnideskError):
    """An evaluation item could not be prepared or checked (its screenshot is missing, a task's set-up
    failed): the item is reported as errored with this message, and the run goes on."""
