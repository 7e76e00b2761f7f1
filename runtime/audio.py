"""The microphone: sounddevice (PortAudio) input at 16 kHz mono, voice activity detection, push-to-talk.

PortAudio calls :meth:`SoundDeviceMicrophone._callback` on its own thread with blocks of 30 ms; the
callback only copies the block, with its ADC time mapped onto ``time.monotonic`` (the clock frames use),
into a bounded ring, and notes the level. Consumers read the ring by sequence number, so push-to-talk and
the utterance iterator can run at once without stealing each other's audio. Voice activity comes from
webrtcvad on 30 ms int16 frames; an utterance starts on a few voiced frames and ends after a hangover of
silence.

sounddevice is imported only when a microphone is opened: no libportaudio (``OSError`` at import), no input
device (``PortAudioError`` querying device -1) and a device that goes away mid-stream all become
:class:`NoMicrophoneError`, so the rest of Omnidesk keeps working.
"""

from __future__ import annotations

import collections
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import NoMicrophoneError
from omnidesk.agent.ports import AudioClip, CancelToken
from omnidesk.runtime.config import AudioConfig

__all__ = ["AudioBlock", "SoundDeviceMicrophone", "VoiceActivityCutter", "level_of", "load_sounddevice"]

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
FRAME_SECONDS = 0.03  # one webrtcvad frame per PortAudio block
FRAME = int(SAMPLE_RATE * FRAME_SECONDS)
_STALL_SECONDS = 2.0

Samples = npt.NDArray[np.float32]


def load_sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio into :class:`NoMicrophoneError`."""
    try:
        import sounddevice
    except OSError as exc:
        raise NoMicrophoneError(
            "no microphone support: the PortAudio library is not installed. Install it (Debian/Ubuntu: "
            "`sudo apt install libportaudio2`) and restart Omnidesk; everything else keeps working"
        ) from exc
    return sounddevice


def level_of(samples: Samples) -> float:
    """A meter level 0..1 from RMS: -60 dBFS and below is 0, full scale is 1."""
    if samples.size == 0:
        return 0.0
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    if rms <= 1e-6:
        return 0.0
    return float(min(1.0, max(0.0, (20.0 * math.log10(rms) + 60.0) / 60.0)))


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """One PortAudio block; ``start`` is the ADC time of its first sample on the monotonic clock."""

    seq: int
    samples: Samples
    start: float

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE


def _clip(blocks: list[AudioBlock]) -> AudioClip:
    if not blocks:
        now = time.monotonic()
        return AudioClip(np.zeros(0, np.float32), SAMPLE_RATE, now, now)
    samples = np.concatenate([b.samples for b in blocks]).astype(np.float32, copy=False)
    start = blocks[0].start
    return AudioClip(samples, SAMPLE_RATE, start, start + len(samples) / SAMPLE_RATE)


class VoiceActivityCutter:
    """Cuts a stream of 30 ms blocks into utterances with webrtcvad.

    An utterance starts when ``start_frames`` of the last ``start_frames + 2`` frames are voiced (its
    clip begins ``pad`` s before the first of them, for the onset webrtcvad misses) and ends after
    ``hangover`` s without voice (its clip ends with the last voiced frame: webrtcvad already holds voice a
    little past the sound), or at ``max_seconds``.
    """

    def __init__(
        self,
        aggressiveness: int,
        *,
        hangover: float = 0.4,
        max_seconds: float = 30.0,
        start_frames: int = 3,
        pad: float = 0.06,
        is_speech: Callable[[bytes], bool] | None = None,
    ) -> None:
        if is_speech is None:
            import webrtcvad

            vad = webrtcvad.Vad(aggressiveness)

            def is_speech(data: bytes) -> bool:
                return bool(vad.is_speech(data, SAMPLE_RATE))

        self._is_speech = is_speech
        self._hangover_frames = max(1, round(hangover / FRAME_SECONDS))
        self._max_frames = max(1, round(max_seconds / FRAME_SECONDS))
        self._start_frames = start_frames
        self._pad_frames = max(0, round(pad / FRAME_SECONDS))
        self._recent: collections.deque[tuple[AudioBlock, bool]] = collections.deque(
            maxlen=start_frames + 2 + self._pad_frames
        )
        self._current: list[AudioBlock] = []
        self._last_voiced = -1
        self._silent = 0

    def push(self, block: AudioBlock) -> AudioClip | None:
        """Feed one 30 ms block; returns an utterance when one has just ended."""
        pcm = (np.clip(block.samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        voiced = len(block.samples) == FRAME and self._is_speech(pcm)
        if not self._current:
            self._recent.append((block, voiced))
            window = list(self._recent)[-(self._start_frames + 2) :]
            if sum(v for _, v in window) < self._start_frames:
                return None
            first = next(i for i, (_, v) in enumerate(self._recent) if v and i >= len(self._recent) - len(window))
            begin = max(0, first - self._pad_frames)
            self._current = [b for b, _ in list(self._recent)[begin:]]
            self._last_voiced = len(self._current) - 1
            self._silent = 0
            self._recent.clear()
            return None
        self._current.append(block)
        if voiced:
            self._last_voiced = len(self._current) - 1
            self._silent = 0
        else:
            self._silent += 1
        if self._silent >= self._hangover_frames or len(self._current) >= self._max_frames:
            return self.flush()
        return None

    def flush(self) -> AudioClip | None:
        """End the utterance in progress (if any) and return it."""
        if not self._current:
            return None
        keep = min(len(self._current), self._last_voiced + 1)
        clip = _clip(self._current[:keep])
        self._current = []
        self._silent = 0
        return clip


class SoundDeviceMicrophone:
    """The Microphone port over a sounddevice input stream (16 kHz mono float32).

    Args:
        config: device (name substring; empty = the default input), VAD aggressiveness, limits.
        buffer_seconds: how much audio the ring keeps for readers that fall behind.
        sounddevice: the module to use (tests pass a fake); imported lazily by default.
    """

    def __init__(
        self,
        config: AudioConfig,
        *,
        buffer_seconds: float = 60.0,
        sounddevice: Any = None,
    ) -> None:
        self._config = config
        self._sd = sounddevice
        self._ring: collections.deque[AudioBlock] = collections.deque(
            maxlen=max(1, int(buffer_seconds / FRAME_SECONDS))
        )
        self._cond = threading.Condition()
        self._stream: Any = None
        self._seq = 0
        self._level = 0.0
        self._offset: float | None = None
        self._lost: str | None = None
        self._ptt_from: int | None = None
        self._dropped = 0
        self._device_name = ""

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    @property
    def device_name(self) -> str:
        return self._device_name

    # --- the stream ----------------------------------------------------------------------------------

    def _module(self) -> Any:
        if self._sd is None:
            self._sd = load_sounddevice()
        return self._sd

    def _select_device(self, sd: Any) -> int | None:
        wanted = self._config.device.strip()
        try:
            devices = list(sd.query_devices())
            if not wanted:
                default = sd.query_devices(kind="input")
                self._device_name = str(default["name"])
                return None
        except sd.PortAudioError as exc:
            raise NoMicrophoneError(
                f"no microphone found ({exc}). Plug one in or enable it in the sound settings, then try "
                "again; Omnidesk works without one (type your tasks)"
            ) from exc
        inputs = [(i, d) for i, d in enumerate(devices) if int(d.get("max_input_channels", 0)) > 0]
        for index, device in inputs:
            if wanted.lower() in str(device["name"]).lower():
                self._device_name = str(device["name"])
                return index
        names = ", ".join(repr(str(d["name"])) for _, d in inputs) or "none"
        raise NoMicrophoneError(
            f"no microphone matches {wanted!r}; inputs on this machine: {names}. "
            "Set audio.device to part of one of those names (or empty for the default)"
        )

    def start(self) -> None:
        """Open and start the input stream (done on first use)."""
        if self._stream is not None:
            return
        sd = self._module()
        device = self._select_device(sd)
        try:
            stream = sd.InputStream(
                samplerate=SAMPLE_RATE,
                channels=1,
                dtype="float32",
                blocksize=FRAME,
                device=device,
                callback=self._callback,
                finished_callback=self._finished,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise NoMicrophoneError(
                f"cannot open the microphone {self.device_name or '(default)'}: {exc}. Check that it is "
                "connected and not used exclusively by another program"
            ) from exc
        self._lost = None
        self._stream = stream
        log.info("microphone %s open at %d Hz", self.device_name or "(default)", SAMPLE_RATE)

    def close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # noqa: BLE001 - closing a dead device must not raise
                log.debug("closing the microphone stream: %s", exc)
        with self._cond:
            self._cond.notify_all()

    def __enter__(self) -> SoundDeviceMicrophone:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        now = time.monotonic()
        current = float(getattr(time_info, "currentTime", 0.0))
        adc = float(getattr(time_info, "inputBufferAdcTime", 0.0))
        samples = np.array(indata[:, 0], dtype=np.float32)
        if current > 0:
            # The PortAudio clock to monotonic: the smallest gap seen is the one with the least
            # scheduling delay.
            gap = now - current
            if self._offset is None or gap < self._offset:
                self._offset = gap
        # Without an ADC time (some host APIs give 0) the block ended about now.
        start = adc + self._offset if adc > 0 and self._offset is not None else now - frames / SAMPLE_RATE
        if status:
            log.debug("microphone status: %s", status)
        with self._cond:
            self._seq += 1
            full = self._ring.maxlen is not None and len(self._ring) == self._ring.maxlen
            self._dropped += int(full)
            self._ring.append(AudioBlock(self._seq, samples, start))
            self._level = level_of(samples)
            self._cond.notify_all()

    def _finished(self) -> None:
        if self._stream is not None:
            self._lost = "the microphone stream stopped (device unplugged or taken by another program)"
            log.warning(self._lost)
        with self._cond:
            self._cond.notify_all()

    def blocks_after(self, seq: int, timeout: float) -> list[AudioBlock]:
        """Blocks newer than ``seq``, waiting up to ``timeout`` for the first; raises if the device died."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if self._lost is not None:
                    raise NoMicrophoneError(f"{self._lost}; reconnect it and start listening again")
                if self._ring and self._ring[-1].seq > seq:
                    return [b for b in self._ring if b.seq > seq]
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _next_blocks(self, seq: int) -> list[AudioBlock]:
        blocks = self.blocks_after(seq, _STALL_SECONDS)
        if not blocks and self._stream is not None:
            raise NoMicrophoneError(
                f"the microphone delivered no audio for {_STALL_SECONDS:.0f} s (unplugged?); reconnect it"
            )
        return blocks

    @property
    def last_seq(self) -> int:
        with self._cond:
            return self._seq

    # --- the Microphone port -------------------------------------------------------------------------

    def level(self) -> float:
        """The input level of the latest block, 0..1."""
        return self._level

    def start_push_to_talk(self) -> None:
        self.start()
        with self._cond:
            self._ptt_from = self._seq

    def stop_push_to_talk(self) -> AudioClip:
        """Everything heard since :meth:`start_push_to_talk` (blocks still in flight included)."""
        with self._cond:
            first = self._ptt_from
            self._ptt_from = None
        if first is None:
            raise RuntimeError("stop_push_to_talk() without start_push_to_talk()")
        stop_at = time.monotonic()
        blocks: list[AudioBlock] = []
        seq = first
        # Wait for the blocks recorded up to now: PortAudio delivers them a block or two late.
        while not blocks or blocks[-1].end < stop_at - FRAME_SECONDS:
            more = self._next_blocks(seq)
            blocks.extend(more)
            seq = more[-1].seq
        blocks = [b for b in blocks if b.start < stop_at]
        if len(blocks) > 0 and blocks[0].seq != first + 1:
            log.warning("push-to-talk lost %d blocks that fell off the buffer", blocks[0].seq - first - 1)
        return _clip(blocks)

    def utterances(self, stop: CancelToken) -> Iterator[AudioClip]:
        """Voice-activity-cut utterances until ``stop`` is cancelled."""
        self.start()
        cutter = VoiceActivityCutter(
            self._config.vad_aggressiveness,
            hangover=self._config.vad_hangover_seconds,
            max_seconds=self._config.max_utterance_seconds,
        )
        stop.on_cancel(self._wake)
        seq = self.last_seq
        while not stop.cancelled:
            for block in self._next_blocks(seq):
                seq = block.seq
                clip = cutter.push(block)
                if clip is not None:
                    yield clip
        last = cutter.flush()
        if last is not None:
            yield last

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()
