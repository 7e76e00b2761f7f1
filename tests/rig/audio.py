"""A private PulseAudio server whose default microphone hears whatever the test plays.

Layout: a null sink `mic_feed`; `test_mic`, a remap of `mic_feed.monitor`, is the default source. A
keep-alive `parecord` stays attached to `test_mic` because an idle null sink drops the first second of
audio played into it. The server runs with `-n` (no default.pa, so no suspend-on-idle and no hardware
probing), anonymous auth on its own socket, and its own runtime dir, so concurrent test sessions do not
share anything. Clients find it through `PULSE_SERVER`; PortAudio (sounddevice) reaches it through the
ALSA pulse plugin, which routes ALSA's `default` device to PulseAudio when a server is running.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.rig import wait_until

__all__ = ["Playback", "PulseAudioRig", "start_pulse_audio"]

_START_TIMEOUT = 30.0
SINK = "mic_feed"
SOURCE = "test_mic"
SAMPLE_RATE = 16000


@dataclass
class Playback:
    """A `paplay` running in the background."""

    process: subprocess.Popen[bytes]

    def wait(self, timeout: float = 60.0) -> None:
        """Block until playback has finished; raise if paplay failed."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        if code != 0:
            raise RuntimeError(f"paplay exited with {code}")


@dataclass
class PulseAudioRig:
    """The running server, its keep-alive recorder, and helpers to speak into the microphone."""

    workdir: Path
    env: dict[str, str]
    server: subprocess.Popen[bytes]
    keep_alive: subprocess.Popen[bytes] | None = None
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def sink(self) -> str:
        """The null sink whose monitor is the microphone."""
        return SINK

    @property
    def source(self) -> str:
        """The default source: what the app records."""
        return SOURCE

    def pactl(self, *args: str) -> str:
        """Run pactl against this server and return its output."""
        result = subprocess.run(["pactl", *args], env=self.env, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pactl {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def speak(self, text: str, path: Path | str | None = None) -> Path:
        """Synthesize `text` with espeak-ng and return it as a 16 kHz mono 16-bit WAV."""
        out = Path(path) if path is not None else self.workdir / f"speech-{next(self._counter)}.wav"
        raw = out.with_suffix(".espeak.wav")
        subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["sox", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        raw.unlink()
        return out

    def play_async(self, wav_path: Path | str) -> Playback:
        """Start playing a WAV into the microphone feed and return at once."""
        process = subprocess.Popen(
            ["paplay", f"--device={SINK}", str(wav_path)],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        return Playback(process)

    def play(self, wav_path: Path | str, timeout: float = 60.0) -> None:
        """Play a WAV into the microphone feed and wait until it has been played."""
        self.play_async(wav_path).wait(timeout)

    def stop(self) -> None:
        """Stop the keep-alive recorder and the server, and reap both."""
        for process in (self.keep_alive, self.server):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
            if process is not None:
                process.wait()


def _short_list(rig: PulseAudioRig, kind: str) -> dict[str, str]:
    """`pactl list short <kind>` as {name: state}."""
    rows = (line.split("\t") for line in rig.pactl("list", "short", kind).splitlines())
    return {row[1]: row[-1] for row in rows if len(row) > 1}


def _warm_up(rig: PulseAudioRig) -> None:
    """Play a short silence: the first stream into an idle null sink stalls for about 2 s."""
    silence = rig.workdir / "warm-up.wav"
    subprocess.run(
        ["sox", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(silence), "trim", "0", "0.2"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    rig.play(silence)


def start_pulse_audio(workdir: Path) -> PulseAudioRig:
    """Start PulseAudio with the microphone feed and wait until the default source is recording."""
    for tool in ("pulseaudio", "pactl", "parecord", "paplay", "espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed; the audio rig needs it")
    runtime = workdir / "runtime"
    (runtime / "pulse").mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    socket = runtime / "pulse" / "native"
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
        "PULSE_STATE_PATH": str(workdir / "state"),
        "XDG_CONFIG_HOME": str(workdir / "config"),
        "PULSE_SERVER": f"unix:{socket}",
    }
    argv = [
        "pulseaudio",
        "-n",
        "--daemonize=no",
        "--system=false",
        "--exit-idle-time=-1",
        "--disallow-exit",
        "--use-pid-file=false",
        f"--log-target=file:{workdir / 'pulseaudio.log'}",
        f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
        f"--load=module-null-sink sink_name={SINK} rate={SAMPLE_RATE} channels=1",
        f"--load=module-remap-source master={SINK}.monitor source_name={SOURCE}",
    ]
    server = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    rig = PulseAudioRig(workdir, env, server)
    try:

        def _sources() -> dict[str, str]:
            if server.poll() is not None:
                raise RuntimeError(f"pulseaudio exited with {server.returncode}; see {workdir}/pulseaudio.log")
            try:
                return _short_list(rig, "sources") if socket.exists() else {}
            except RuntimeError:
                return {}

        wait_until(lambda: SOURCE in _sources(), _START_TIMEOUT, "PulseAudio to offer test_mic", 0.05)
        rig.pactl("set-default-source", SOURCE)
        rig.pactl("set-default-sink", SINK)
        rig.keep_alive = subprocess.Popen(
            ["parecord", "--latency-msec=10", f"--device={SOURCE}", "/dev/null"],
            env=env,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_until(
            lambda: _sources().get(SOURCE) == _sources().get(f"{SINK}.monitor") == "RUNNING",
            _START_TIMEOUT,
            "the keep-alive recorder to run test_mic",
            0.05,
        )
        _warm_up(rig)
    except BaseException:
        rig.stop()
        raise
    return rig
