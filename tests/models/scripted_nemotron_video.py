"""A strict scripted Nemotron 3 Nano Omni answering questions about a screen recording, vLLM-like, for tests.

It takes sampled video frames only in the layout vLLM's Nemotron processor gives a video
(``vllm/transformers_utils/processors/nano_nemotron_vl.py``, ``get_video_repl``, v0.20.0) and refuses any
other request with HTTP 400 and the reason. Checked, written from that source and the model's config:

- the body: the OpenAI chat fields Omnidesk's client sends (``model``, ``messages``, ``max_tokens``,
  ``stream`` + ``stream_options``, ``chat_template_kwargs`` holding only ``enable_thinking``, sampling);
- one user turn whose media come first: frames grouped in pairs (``video_temporal_patch_size`` 2), each
  group introduced by ``"Frame {i+1} sampled at {t:.2f} seconds"`` (``" and frame {i+2} sampled at …"``
  for the second), then ``": "``, a ``"\\n"`` before every group but the first; frames numbered from 1, times
  never going back; only the last group may hold one frame;
- every frame at the size the processor resizes a video frame to (``_compute_aspect_preserving_size``:
  about ``video_target_num_patches`` = 1024 patches of 16 px, aspect kept, even patch counts), as a PNG;
- the sound after the frames: 16 kHz mono 16-bit WAV clips of at most 30 s (Parakeet's ``clip_duration_s``),
  every clip but the last a full 30 s;
- optional (``crops=True``): change crops after the sound, each ``"\\nChanged region x=… y=… (W×H) at T
  seconds: "`` and one image, T one of the frames' times;
- optional, a spoken question after all of the recording's media (Omnidesk's addition, as a voice command
  sends audio first and the text after): the label ``"\nThe person's question, spoken (not part of the
  recording): "`` then its own 16 kHz clips (at most 30 s each); the text must then say the question is
  spoken, and a text that says so without the clip is refused;
- then the text: the part of the recording (``mm:ss–mm:ss of mm:ss``) and ``Question: …`` last.

A user turn that merges the answers of a long recording's parts is accepted as such: text only, or the
spoken question (label and clips) then the text. What the model says is a :data:`Policy` of what it saw.

Launched as vLLM (``serve(..., vllm=VllmVideo(...))``) it says so on ``/v1/models`` (``owned_by: vllm``,
``max_model_len``), answers ``/server_info?config_format=json`` only in dev mode (``VLLM_SERVER_DEV_MODE=1``;
``vllm/entrypoints/serve/dev/server_info/api_router.py``) and takes the recording as a clip instead
(:func:`check_video_request`): one ``video_url`` part first, a ``data:video/mp4;base64,`` URL of an MP4 with
one H.264 stream and no sound (vLLM drops a video's own sound unless ``use_audio_in_video``), at the size
vLLM resizes video frames to or the screen's own when smaller (no upscale); then the sound as ``input_audio``
and one text part last (vLLM's string content format puts every media placeholder before the text). It
decodes the clip with PyAV, samples it as vLLM's ``VideoBackend`` does for its launch options
(``num_frames``, ``fps``: ``linspace(0, total - 1, n)``) and labels the kept frames as
``nano_nemotron_vl.calculate_timestamps`` does (index · ``int(1000 / fps)`` ms), plus the clip's offset the
text states. Otherwise (a llama.cpp server, ``owned_by: llamacpp``) it takes the frames layout above.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import threading
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt

from tests.models.scripted_server import check_fields, png_data_url

__all__ = [
    "Combine",
    "OffFormat",
    "Policy",
    "ScriptedVideoNemotron",
    "SeenPart",
    "VllmVideo",
    "check_request",
    "check_video_request",
    "serve",
]

Pixels = npt.NDArray[np.uint8]

_FIELDS = {"model", "messages", "max_tokens", "stream", "stream_options", "chat_template_kwargs"}
_SAMPLING = {"temperature", "top_p", "top_k", "seed"}
_MP4_URL = "data:video/mp4;base64,"
_OFFSET = re.compile(r"The video starts (?P<o>[0-9]+\.[0-9]{2}) seconds into the recording")
_TIME = r"(?P<{0}>[0-9]+\.[0-9]{{2}})"
_GROUP = re.compile(
    r"\A(?P<nl>\n?)Frame (?P<a>[1-9][0-9]*) sampled at "
    + _TIME.format("ta")
    + r" seconds(?: and frame (?P<b>[1-9][0-9]*) sampled at "
    + _TIME.format("tb")
    + r" seconds)?: \Z"
)
_CROP = re.compile(r"\A\nChanged region x=\d+ y=\d+ \(\d+x\d+\) at (?P<t>[0-9]+\.[0-9]{2}) seconds: \Z")
_SPAN = re.compile(r"screen recording: (?P<a>\d\d:\d\d)–(?P<b>\d\d:\d\d) of (?P<len>\d\d:\d\d)\.")
_QUESTION = re.compile(r"\n\nQuestion: (?P<q>.+)\Z", re.DOTALL)
_SPOKEN_LABEL = "\nThe person's question, spoken (not part of the recording): "
_SPOKEN_SAID = "The person asked the question aloud"
_SPOKEN_QUESTION = "the one the person spoke in the question's audio"


class OffFormat(ValueError):
    """The request is not laid out as the model was trained (the reason is the 400 answer's message)."""


def video_frame_size(width: int, height: int) -> tuple[int, int]:
    """``_compute_aspect_preserving_size`` with 1024 target patches of 16 px (nano_nemotron_vl.py)."""
    aspect = width / max(height, 1)
    ph = max(round(math.sqrt(1024 / aspect)), 1)
    pw = max(round(math.sqrt(1024 * aspect)), 1)
    if (ph + ph % 2) * (pw + pw % 2) <= 1024:
        ph, pw = ph + ph % 2, pw + pw % 2
    else:
        ph, pw = max(2, ph - ph % 2), max(2, pw - pw % 2)
    return pw * 16, ph * 16


@dataclass(frozen=True)
class SeenPart:
    """A request about (part of) a recording that passed the checks."""

    times: list[float]
    frames: list[Pixels]  # RGB
    audio: npt.NDArray[np.float32]  # the clips joined, 16 kHz
    clips: list[float]  # each clip's seconds
    crop_times: list[float]
    span: tuple[str, str, str]  # mm:ss from, to, length
    text: str
    question: str
    spoken: npt.NDArray[np.float32] | None = None  # the spoken question's clips joined, 16 kHz
    clip_frames: int = 0  # a clip: how many frames it held (0: frames sent as images)
    clip_size: tuple[int, int] | None = None
    clip_fps: float = 0.0


@dataclass(frozen=True)
class VllmVideo:
    """The scripted vLLM server's launch options: ``--media-io-kwargs`` video ``num_frames`` / ``fps``,
    ``--video-pruning-rate``, ``--max-model-len``, and whether ``VLLM_SERVER_DEV_MODE=1`` (``/server_info``)."""

    num_frames: int = 32
    fps: float = -1.0
    pruning_rate: float | None = None
    max_model_len: int = 131072
    dev_mode: bool = False


@dataclass(frozen=True)
class Combine:
    """The request that merges the parts' answers."""

    text: str
    question: str
    spoken: npt.NDArray[np.float32] | None = None


Policy = Callable[[SeenPart | Combine], str]


def _png(url: object, size: tuple[int, int]) -> Pixels:
    image = png_data_url(url, "each frame", error=OffFormat)
    if (image.shape[1], image.shape[0]) != size:
        raise OffFormat(f"a {image.shape[1]}x{image.shape[0]} frame; the video frame size is {size[0]}x{size[1]}")
    return image


def _wav(part: dict[str, Any]) -> npt.NDArray[np.float32]:
    audio = part.get("input_audio") or {}
    if audio.get("format") != "wav":
        raise OffFormat("audio must be input_audio WAV")
    with wave.open(io.BytesIO(base64.b64decode(audio.get("data", ""), validate=True)), "rb") as wav:
        if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) != (16000, 1, 2):
            raise OffFormat("audio must be 16 kHz mono 16-bit (the sound encoder's rate)")
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    if len(samples) > 30 * 16000:
        raise OffFormat(f"a {len(samples) / 16000:.2f} s audio clip: the encoder takes clips of at most 30 s")
    return samples


def _fields(body: dict[str, Any]) -> None:
    check_fields(body, _FIELDS | _SAMPLING, error=OffFormat)
    kwargs = body.get("chat_template_kwargs", {})
    if not isinstance(kwargs, dict) or set(kwargs) - {"enable_thinking"}:
        raise OffFormat(f"chat_template_kwargs may hold enable_thinking only: {kwargs}")


def _clips(content: list[Any], position: int) -> tuple[list[npt.NDArray[np.float32]], int]:
    """The input_audio clips from ``position`` on (every one but the last a full 30 s) and where they end."""
    clips: list[npt.NDArray[np.float32]] = []
    while position < len(content) and content[position].get("type") == "input_audio":
        clips.append(_wav(content[position]))
        position += 1
    if any(len(c) != 30 * 16000 for c in clips[:-1]):
        raise OffFormat("every audio clip but the last must be a full 30 s")
    return clips, position


def _spoken(content: list[Any], position: int) -> tuple[npt.NDArray[np.float32] | None, int]:
    """The spoken question at ``position`` (its label, then its clips), if there is one."""
    if position >= len(content) or content[position].get("text") != _SPOKEN_LABEL:
        return None, position
    clips, end = _clips(content, position + 1)
    if not clips or not any(len(c) for c in clips):
        raise OffFormat("the spoken question's label must be followed by its audio")
    return np.concatenate(clips), end


def _spoken_text(text: str, question: str, spoken: object) -> None:
    said = _SPOKEN_SAID in text and question.startswith(_SPOKEN_QUESTION)
    if spoken is not None and not said:
        raise OffFormat("with a spoken question the text must say the question is the spoken audio")
    if spoken is None and (said or _SPOKEN_SAID in text):
        raise OffFormat("the text says the question is spoken, but no spoken question follows the recording")


def check_request(body: object, screen: tuple[int, int], *, crops: bool = False) -> SeenPart | Combine:
    """What the request shows, if it is in the trained video layout (see the module doc).

    Raises:
        OffFormat: what is off, in words.
    """
    if not isinstance(body, dict):
        raise OffFormat("the body is not a JSON object")
    _fields(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) != 1 or messages[0].get("role") != "user":
        raise OffFormat("a recording question is one user turn")
    content = messages[0].get("content")
    if isinstance(content, list) and content and content[0].get("text") == _SPOKEN_LABEL:
        question_audio, position = _spoken(content, 0)
        rest = content[position:]
        if len(rest) != 1 or rest[0].get("type") != "text" or not rest[0]["text"].startswith("\nA screen recording ("):
            raise OffFormat("only a turn merging the parts' answers may start with the spoken question")
        return _combine(rest[0]["text"][1:], question_audio)
    if isinstance(content, str):
        return _combine(content, None)
    if not isinstance(content, list) or not content:
        raise OffFormat("the user turn's content must be a list of parts")
    size = video_frame_size(*screen)
    times: list[float] = []
    frames: list[Pixels] = []
    position = 0
    while position < len(content) and content[position].get("type") == "text":
        group = _GROUP.match(content[position].get("text", ""))
        if group is None:
            break
        first, count = int(group["a"]), 2 if group["b"] else 1
        if bool(group["nl"]) != bool(times) or first != len(times) + 1 or (group["b"] and int(group["b"]) != first + 1):
            raise OffFormat(f"frame group {content[position]['text']!r} is not the next one in vLLM's layout")
        if times and len(times) % 2:
            raise OffFormat("only the last group may hold a single frame")
        images = content[position + 1 : position + 1 + count]
        if len(images) != count or any(p.get("type") != "image_url" for p in images):
            raise OffFormat(f"group {first} must be followed by its {count} frame(s)")
        for label, image in zip((group["ta"], group["tb"]), images, strict=False):
            times.append(float(label))
            frames.append(_png((image.get("image_url") or {}).get("url"), size))
        position += 1 + count
    if not frames:
        raise OffFormat("the frames come first, in vLLM's video layout ('Frame 1 sampled at 0.00 seconds …: ')")
    if times != sorted(times):
        raise OffFormat(f"frame times go back: {times}")
    clips, position = _clips(content, position)
    crop_times: list[float] = []
    while position + 1 < len(content) and _CROP.match(str(content[position].get("text", ""))):
        if not crops:
            raise OffFormat("change crops were not asked for")
        stamp = float(_CROP.match(content[position]["text"])["t"])  # type: ignore[index]
        if stamp not in times or content[position + 1].get("type") != "image_url":
            raise OffFormat("a change crop must carry one of the frames' times and one image")
        crop_times.append(stamp)
        position += 2
    question_audio, position = _spoken(content, position)
    rest = content[position:]
    if len(rest) != 1 or rest[0].get("type") != "text":
        raise OffFormat(f"after the media comes one text part, got {[p.get('type') for p in rest]}")
    text = rest[0]["text"]
    span, question = _SPAN.search(text), _QUESTION.search(text)
    if not text.startswith("\n") or span is None or question is None:
        raise OffFormat("the text must say which part of the recording this is and end with the question")
    _spoken_text(text, question["q"], question_audio)
    audio = np.concatenate(clips) if clips else np.zeros(0, np.float32)
    return SeenPart(
        times,
        frames,
        audio,
        [len(c) / 16000 for c in clips],
        crop_times,
        (span["a"], span["b"], span["len"]),
        text,
        question["q"],
        question_audio,
    )


def _combine(text: str, spoken: npt.NDArray[np.float32] | None) -> Combine:
    match = _QUESTION.search(text)
    if not text.startswith("A screen recording (") or match is None:
        raise OffFormat("a turn without frames must merge the parts' answers and end with the question")
    _spoken_text(text, match["q"], spoken)
    return Combine(text, match["q"], spoken)


def _clip(url: object) -> tuple[list[Pixels], float, tuple[int, int]]:
    """The frames (RGB), frame rate and size of a ``data:video/mp4;base64,`` clip, decoded with PyAV."""
    import av

    if not isinstance(url, str) or not url.startswith(_MP4_URL):
        head = url[:30] if isinstance(url, str) else type(url).__name__
        raise OffFormat(f"the clip must be a data:video/mp4;base64 URL, got {head!r}")
    try:
        data = base64.b64decode(url[len(_MP4_URL) :], validate=True)
    except ValueError as exc:
        raise OffFormat("the clip's base64 does not decode") from exc
    if data[4:8] != b"ftyp":
        raise OffFormat("the clip is not an MP4 (no ftyp box)")
    try:
        with av.open(io.BytesIO(data)) as container:
            if "mp4" not in container.format.name:
                raise OffFormat(f"the clip is {container.format.name}, not MP4")
            if container.streams.audio:
                raise OffFormat(
                    "the clip carries a sound track, which vLLM drops without use_audio_in_video: "
                    "send the sound as input_audio"
                )
            if len(container.streams.video) != 1 or container.streams.video[0].codec_context.name != "h264":
                raise OffFormat("the clip must hold one H.264 video stream")
            stream = container.streams.video[0]
            fps = float(stream.average_rate or 0)
            frames = []
            for k, frame in enumerate(container.decode(stream)):
                if frame.pts is None or abs(float(frame.pts * frame.time_base) - k / fps) > 1e-3:
                    raise OffFormat("the clip's frame rate is not constant")
                frames.append(np.ascontiguousarray(frame.to_ndarray(format="rgb24")))
    except av.error.FFmpegError as exc:
        raise OffFormat(f"the clip does not decode: {exc}") from exc
    if not frames or fps <= 0:
        raise OffFormat("the clip holds no frames")
    return frames, fps, (frames[0].shape[1], frames[0].shape[0])


def _vllm_sampled(total: int, fps: float, launch: VllmVideo) -> list[int]:
    """vLLM's ``VideoBackend.compute_frames_index_to_sample`` for the server's launch options."""
    count = min(launch.num_frames, total) if launch.num_frames > 0 else total
    if launch.fps > 0:
        count = min(count, math.floor(total / fps * launch.fps))
    count = max(1, count)
    if count == total:
        return list(range(total))
    return [int(i) for i in np.linspace(0, total - 1, count, dtype=int)]


def check_video_request(body: object, screen: tuple[int, int], launch: VllmVideo) -> SeenPart | Combine:
    """What a vLLM server launched with ``launch`` makes of the request: the clip's kept frames with their
    labels (plus the offset the text states), the sound, the text (see the module doc).

    Raises:
        OffFormat: what is off, in words.
    """
    if not isinstance(body, dict):
        raise OffFormat("the body is not a JSON object")
    _fields(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or len(messages) != 1 or messages[0].get("role") != "user":
        raise OffFormat("a recording question is one user turn")
    content = messages[0].get("content")
    if isinstance(content, str):
        return check_request(body, screen)
    if not isinstance(content, list) or not content or not all(isinstance(p, dict) for p in content):
        raise OffFormat("the user turn's content must be a list of parts")
    kinds = [p.get("type") for p in content]
    if "video_url" not in kinds and set(kinds) <= {"image_url", "input_audio", "text"}:
        return check_request(body, screen)  # sampled frames (vLLM takes images too), or merging the parts
    if kinds[0] != "video_url" or kinds.count("video_url") != 1:
        raise OffFormat(f"the clip comes first, as one video_url part (vLLM puts media before the text): {kinds}")
    audio_end = 1
    while audio_end < len(kinds) and kinds[audio_end] == "input_audio":
        audio_end += 1
    if kinds[audio_end:] != ["text"]:
        raise OffFormat(f"after the clip and its sound comes one text part, got {kinds}")
    frames, fps, size = _clip((content[0].get("video_url") or {}).get("url"))
    target = video_frame_size(*screen)
    expected = target if screen[0] >= target[0] and screen[1] >= target[1] else (screen[0] // 2 * 2, screen[1] // 2 * 2)
    if size != expected:
        raise OffFormat(
            f"a {size[0]}x{size[1]} clip of a {screen[0]}x{screen[1]} screen: vLLM resizes video frames to "
            f"{target[0]}x{target[1]}; send {expected[0]}x{expected[1]} (no upscale)"
        )
    clips = [_wav(part) for part in content[1:audio_end]]
    if any(len(c) != 30 * 16000 for c in clips[:-1]):
        raise OffFormat("every audio clip but the last must be a full 30 s")
    text = content[-1].get("text")
    if not isinstance(text, str):
        raise OffFormat("the text part has no text")
    span, question, offset = _SPAN.search(text), _QUESTION.search(text), _OFFSET.search(text)
    if span is None or question is None or offset is None:
        raise OffFormat("the text must say which part of the recording this is, where the video starts, and ask")
    kept = _vllm_sampled(len(frames), fps, launch)
    step = int(1000.0 / fps)
    times = [round(float(offset["o"]) + i * step / 1000.0, 3) for i in kept]
    audio = np.concatenate(clips) if clips else np.zeros(0, np.float32)
    return SeenPart(
        times,
        [frames[i] for i in kept],
        audio,
        [len(c) / 16000 for c in clips],
        [],
        (span["a"], span["b"], span["len"]),
        text,
        question["q"],
        clip_frames=len(frames),
        clip_size=size,
        clip_fps=fps,
    )


@dataclass
class _State:
    policy: Policy
    screen: tuple[int, int]
    crops: bool
    vllm: VllmVideo | None = None
    gets: list[str] = field(default_factory=list)
    seen: list[SeenPart | Combine] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        return

    def _json(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        state = self.server.state
        launch = state.vllm
        with state.lock:
            state.gets.append(self.path)
        route = urlsplit(self.path)
        if route.path.rstrip("/") == "/v1/models":
            if launch is None:  # llama.cpp's server
                model = {"id": "nemotron.gguf", "object": "model", "owned_by": "llamacpp"}
            else:
                model = {"id": "nemotron", "object": "model", "owned_by": "vllm", "max_model_len": launch.max_model_len}
            self._json(200, {"object": "list", "data": [model]})
        elif launch is not None and launch.dev_mode and route.path == "/server_info":
            video: dict[str, object] = {"num_frames": launch.num_frames}
            if launch.fps > 0:
                video["fps"] = launch.fps
            multimodal = {"video_pruning_rate": launch.pruning_rate, "media_io_kwargs": {"video": video}}
            config: object = {"model_config": {"max_model_len": launch.max_model_len, "multimodal_config": multimodal}}
            if "config_format=json" not in route.query:
                config = str(config)
            self._json(200, {"vllm_config": config, "vllm_env": {}, "system_env": {}})
        else:
            self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        state = self.server.state
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if state.vllm is not None:
                seen = check_video_request(body, state.screen, state.vllm)
            else:
                seen = check_request(body, state.screen, crops=state.crops)
        except (OffFormat, json.JSONDecodeError, ValueError, KeyError, AttributeError, wave.Error) as exc:
            with state.lock:
                state.refusals.append(str(exc))
            self._json(400, {"error": {"message": str(exc), "type": "BadRequestError", "code": 400}})
            return
        with state.lock:
            state.seen.append(seen)
        text = state.policy(seen)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for start in range(0, len(text), 16):
            delta = {"choices": [{"index": 0, "delta": {"content": text[start : start + 16]}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
        usage = {"prompt_tokens": 1000, "completion_tokens": len(text) // 4, "total_tokens": 1000 + len(text) // 4}
        done = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(
            f"data: {json.dumps(done)}\n\ndata: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode()
        )
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: _State) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class ScriptedVideoNemotron:
    """The running server: ``url``, the requests it answered (``seen``) and refused (``refusals``)."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        host, port = server.server_address[:2]
        self.url = f"http://{host!s}:{port}"

    @property
    def seen(self) -> list[SeenPart | Combine]:
        with self._server.state.lock:
            return list(self._server.state.seen)

    @property
    def refusals(self) -> list[str]:
        with self._server.state.lock:
            return list(self._server.state.refusals)

    @property
    def gets(self) -> list[str]:
        """The GET paths asked (the engine probes)."""
        with self._server.state.lock:
            return list(self._server.state.gets)


@contextmanager
def serve(
    policy: Policy, screen: tuple[int, int], *, crops: bool = False, vllm: VllmVideo | None = None
) -> Iterator[ScriptedVideoNemotron]:
    """Serve ``policy`` on 127.0.0.1 (a free port) for a recording of a ``screen``-sized monitor: as
    llama.cpp's server taking frames, or (``vllm``) as a vLLM server so launched taking the clip."""
    server = _Server(_State(policy, screen, crops, vllm))
    thread = threading.Thread(target=server.serve_forever, name="scripted-video-nemotron", daemon=True)
    thread.start()
    try:
        yield ScriptedVideoNemotron(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
