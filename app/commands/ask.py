"""``omnidesk ask``: one question to the model, optionally about an image, a sound, or a screen recording."""

from __future__ import annotations

import json
import time
import wave
from pathlib import Path
from typing import Annotated

import numpy as np
import typer

from omnidesk.agent.errors import ConfigError
from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import (
    AudioClip,
    AudioPart,
    ChatMessage,
    Frame,
    ImagePart,
    ModelRequest,
    Part,
    TextPart,
    TokenDelta,
)
from omnidesk.app.cli_options import (
    JsonOption,
    MmprojOption,
    ModelOption,
    ModelOptions,
    ProfileOption,
    RemoteOption,
    get_context,
    terminal_consent,
)

__all__ = ["load_image_part", "load_wav", "register"]

SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly."


def load_image_part(path: Path, size: int | None) -> ImagePart:
    """A PNG/JPEG as the model will see it: letterboxed into a square of the model's image size."""
    import cv2

    from omnidesk.runtime.images import overview_image

    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if pixels is None:
        raise ConfigError(f"cannot read the image {path}; give a PNG or JPEG file")
    bgra = np.asarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA), dtype=np.uint8)
    height, width = bgra.shape[:2]
    frame = Frame(bgra, time.monotonic(), MonitorInfo(0, path.name, Rect(0, 0, width, height)))
    image = overview_image(frame, size or max(width, height))
    return ImagePart(image)


def load_wav(path: Path) -> AudioClip:
    """A PCM WAV file as mono float32 (the runtime resamples to the model's rate)."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, channels, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise ConfigError(f"cannot read the recording {path} ({exc}); give a PCM WAV file") from exc
    if width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    elif width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        raise ConfigError(f"{path} uses {8 * width}-bit samples; convert it to 16-bit PCM WAV")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    return AudioClip(samples, rate, 0.0, len(samples) / rate)


def _spoken_question(path: Path) -> AudioClip:
    """A spoken question about a recording: a 16 kHz WAV, the rate the audio encoder takes it at."""
    clip = load_wav(path)
    if clip.sample_rate != 16000:
        raise ConfigError(
            f"{path} is {clip.sample_rate} Hz; a spoken question goes to the model at 16 kHz: convert it "
            "(e.g. `sox IN.wav -r 16000 -c 1 -b 16 OUT.wav`)"
        )
    if not len(clip.samples):
        raise ConfigError(f"{path} holds no sound; record the question again")
    return clip


def ask(
    ctx: typer.Context,
    question: Annotated[
        str, typer.Argument(help="What to ask (with --recording and --audio: only what goes with the spoken question).")
    ] = "",
    *,
    image: Annotated[Path | None, typer.Option("--image", help="A PNG/JPEG the question is about.")] = None,
    audio: Annotated[
        Path | None,
        typer.Option("--audio", help="A WAV recording to listen to (with --recording: the question, spoken, 16 kHz)."),
    ] = None,
    recording: Annotated[
        Path | None,
        typer.Option("--recording", help="A recording folder, one segment, or any MP4/MKV to ask about."),
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start of the range (seconds or mm:ss).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="End of the range (seconds or mm:ss).")] = None,
    last: Annotated[
        float | None,
        typer.Option("--last", min=0.01, help="The last MINUTES (of --recording, else of the newest recording)."),
    ] = None,
    crops: Annotated[bool, typer.Option("--crops", help="Also send the changed regions at full size.")] = False,
    budget: Annotated[
        int | None, typer.Option("--budget", min=512, help="Tokens of media per request (default: the context).")
    ] = None,
    frames: Annotated[
        bool, typer.Option("--frames", help="Send sampled frames even to an engine that takes video.")
    ] = False,
    video_pruning_rate: Annotated[
        float | None,
        typer.Option(
            "--video-pruning-rate",
            min=0.0,
            max=0.99,
            help="The vLLM server's --video-pruning-rate, when it does not report it (planning and output).",
        ),
    ] = None,
    video_frames: Annotated[
        int | None, typer.Option("--video-frames", min=1, help="The server's media-io num_frames (default 32).")
    ] = None,
    video_fps: Annotated[
        float | None, typer.Option("--video-fps", min=0.01, help="The server's media-io fps (default: every frame).")
    ] = None,
    think: Annotated[
        bool | None, typer.Option("--think/--no-think", help="Let the model reason first (profile default).")
    ] = None,
    max_tokens: Annotated[int, typer.Option("--max-tokens", min=1, help="Longest answer.")] = 512,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampler seed (repeatable answers).")] = None,
    model: ModelOption = None,
    mmproj: MmprojOption = None,
    profile: ProfileOption = None,
    remote: RemoteOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask the model one question (streams the answer; reasoning goes to stderr)."""
    context = get_context(ctx)
    about_recording = recording is not None or last is not None
    if about_recording and image is not None:
        raise typer.BadParameter("--recording/--last cannot be combined with --image")
    if not question.strip() and not (about_recording and audio is not None):
        raise typer.BadParameter("give the QUESTION (about a recording, --audio WAV can hold it spoken)")
    video_options = (video_pruning_rate, video_frames, video_fps)
    if not about_recording and (
        start is not None or end is not None or crops or budget is not None or frames or video_options != (None,) * 3
    ):
        raise typer.BadParameter(
            "--from, --to, --crops, --budget, --frames and --video-* go with --recording or --last"
        )
    if last is not None and (start is not None or end is not None):
        raise typer.BadParameter("--last cannot be combined with --from/--to")
    from omnidesk.app.commands.ask_recording import parse_time_option

    range_from, range_to = parse_time_option(start, "--from"), parse_time_option(end, "--to")
    spoken = _spoken_question(audio) if about_recording and audio is not None else None
    from omnidesk.app.compose import build_model_client

    client = build_model_client(
        context.settings,
        context.paths,
        ModelOptions(model=model, mmproj=mmproj, profile=profile, remote=remote),
        consent=terminal_consent(),
    )
    if about_recording:
        from omnidesk.app.commands.ask_recording import answer_recording_question
        from omnidesk.app.recording_question import RecordingQuestion

        question_about = RecordingQuestion(
            question,
            path=recording,
            recordings_dir=context.paths.recordings_dir,
            start=range_from,
            end=range_to,
            last=None if last is None else last * 60,
            crops=crops,
            budget=budget,
            max_tokens=max_tokens,
            enable_thinking=think,
            spoken=spoken,
            video=not frames,
            video_pruning_rate=video_pruning_rate,
            video_frames=video_frames,
            video_fps=video_fps,
        )
        try:
            answer_recording_question(client, question_about, evs=context.settings.evs, as_json=as_json)
        finally:
            client.close()
        return
    try:
        parts: list[Part] = []
        if image is not None:
            parts.append(load_image_part(image, client.capabilities.image_size))
        if audio is not None:
            parts.append(AudioPart(load_wav(audio)))
        parts.append(TextPart(question))
        request = ModelRequest(
            (ChatMessage.text("system", SYSTEM_PROMPT), ChatMessage("user", tuple(parts))),
            max_tokens=max_tokens,
            seed=seed,
            enable_thinking=think,
        )

        def stream(delta: TokenDelta) -> None:
            typer.echo(delta.text, nl=False, err=delta.channel == "reasoning")

        reply = client.generate(request, on_token=None if as_json else stream)
    finally:
        client.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "answer": reply.text,
                    "reasoning": reply.reasoning,
                    "model": client.capabilities.name,
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "prefill_seconds": round(reply.prefill_seconds, 4),
                    "decode_seconds": round(reply.decode_seconds, 4),
                    "stop_reason": reply.stop_reason,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        typer.echo("")


def register(cli: typer.Typer) -> None:
    cli.command("ask")(ask)
