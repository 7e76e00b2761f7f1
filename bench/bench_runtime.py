"""The local model runtime against baselines measured in the same run, printed as one table.

    .venv/bin/python bench/bench_runtime.py [--tokens 128] [--steps 6]

Uses a "bench-size" random-weight ``nemotron_h_moe`` (a few hundred MB, cached in bench/out/) with the
tiny omni mmproj, on whatever CPU this is, and reports:

- decode speed: tokens/s through :class:`OmniSession` (Jinja rendering, streaming, reasoning split,
  sampler chain, abort callback) as a ratio to raw llama-cpp-python ``Llama.create_completion`` on the
  same model, prompt and greedy sampling;
- prompt reuse: tokens evaluated and prefill time over a 6-step agent conversation (append-only history,
  ``CachePoint``, one new screenshot per step plus the previous one) with state reuse, as a ratio to the
  same conversation evaluated from scratch every step;
- stop latency: from a stop request to ``generate`` returning, during decode and during a long
  prefill, also as a multiple of one decode step.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omnidesk.agent.geometry import MonitorInfo, Rect
from omnidesk.agent.ports import (
    CachePoint,
    CancelToken,
    ChatMessage,
    Frame,
    ImagePart,
    ModelRequest,
    TextPart,
    TokenDelta,
)
from omnidesk.runtime.images import overview_image
from omnidesk.runtime.llama.offload import default_threads
from omnidesk.runtime.llama.session import OmniSession
from tests.models.tiny_gguf import BenchSize, write_mmproj, write_nemotron_h_moe

OUT = Path(__file__).resolve().parent / "out"
SYSTEM = ChatMessage.text("system", "You operate a computer for the user. Answer with one action.")


def _files() -> tuple[Path, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    model, mmproj = OUT / "bench-nemotron-h-moe.gguf", OUT / "bench-mmproj.gguf"
    if not model.exists():
        write_nemotron_h_moe(model.with_suffix(".tmp"), size=BenchSize)
        model.with_suffix(".tmp").replace(model)
    if not mmproj.exists():
        write_mmproj(mmproj, text_embd=BenchSize.n_embd, image_size=64)
    return model, mmproj


def _screenshot(seed: int) -> ImagePart:
    pixels = np.random.default_rng(seed).integers(0, 255, (1080, 1920, 4), dtype=np.uint8)
    frame = Frame(pixels, float(seed), MonitorInfo(1, "DUMMY0", Rect(0, 0, 1920, 1080)))
    return ImagePart(overview_image(frame, 64))


def bench_decode(model: Path, mmproj: Path, n_tokens: int) -> tuple[float, float]:
    from llama_cpp import Llama

    prompt_text = "Describe the next step of the task in detail."
    request = ModelRequest(
        (SYSTEM, ChatMessage.text("user", prompt_text)), max_tokens=n_tokens, top_k=1, enable_thinking=False
    )
    threads = default_threads()
    with OmniSession.open(model, mmproj, n_ctx=4096, n_threads=threads) as session:
        session.generate(ModelRequest(request.messages, max_tokens=4, top_k=1))  # warm-up
        ours = []
        for _ in range(3):
            reply = session.generate(request)
            ours.append(reply.completion_tokens / reply.decode_seconds)
    llm = Llama(model_path=str(model), n_ctx=4096, n_threads=threads, n_threads_batch=threads, verbose=False)
    raw_prompt = f"<|im_start|>user\n{prompt_text}<|im_end|>\n<|im_start|>assistant\n<think></think>"
    llm.create_completion(raw_prompt, max_tokens=4, temperature=0.0)
    raw = []
    for _ in range(3):
        llm.reset()
        start = time.perf_counter()
        first: float | None = None
        count = 0
        for _chunk in llm.create_completion(raw_prompt, max_tokens=n_tokens, temperature=0.0, stream=True):
            count += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        raw.append((count - 1) / (end - (first or start)))
    llm.close()
    return statistics.median(ours), statistics.median(raw)


def _conversation(n_steps: int) -> list[ModelRequest]:
    requests = []
    history = "Task: open the settings dialog and turn on dark mode.\n"
    shots = [_screenshot(i) for i in range(n_steps + 1)]
    for step in range(n_steps):
        images = shots[max(0, step - 1) : step + 1]
        user = ChatMessage(
            "user",
            (TextPart(history), CachePoint(), *images, TextPart("What is the next action?")),
        )
        requests.append(ModelRequest((SYSTEM, user), max_tokens=8, top_k=1, enable_thinking=False))
        history += f"# Step {step + 1}:\n## Action:\nclick the item number {step + 1} in the list\n"
    return requests


def bench_reuse(model: Path, mmproj: Path, n_steps: int) -> dict[str, float]:
    requests = _conversation(n_steps)
    results: dict[str, float] = {}
    with OmniSession.open(model, mmproj, n_ctx=8192) as session:
        for mode in ("scratch", "reuse"):
            evaluated = total = 0
            prefill = 0.0
            encoded = 0
            session.reset()
            for request in requests:
                if mode == "scratch":
                    session.reset()
                reply = session.generate(request)
                evaluated += reply.prompt_tokens - reply.reused_tokens
                total += reply.prompt_tokens
                prefill += reply.prefill_seconds
                encoded += reply.images_encoded
            results[f"{mode}_evaluated"] = evaluated
            results[f"{mode}_total"] = total
            results[f"{mode}_prefill"] = prefill
            results[f"{mode}_encoded"] = encoded
    return results


def bench_stop(model: Path, mmproj: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    with OmniSession.open(model, mmproj, n_ctx=8192, n_ubatch=32) as session:
        token = CancelToken()
        stamps: list[float] = []
        seen: list[TokenDelta] = []

        def on_token(delta: TokenDelta) -> None:
            seen.append(delta)
            if len(seen) == 8 and not stamps:
                stamps.append(time.perf_counter())
                token.cancel()

        request = ModelRequest((SYSTEM, ChatMessage.text("user", "Write a long story.")), max_tokens=400, top_k=1)
        reply = session.generate(request, on_token=on_token, cancel=token)
        out["decode_stop"] = time.perf_counter() - stamps[0]
        out["decode_step"] = reply.decode_seconds / max(1, reply.completion_tokens)
        long_text = "Task history line with some words in it.\n" * 300
        token = CancelToken()
        request = ModelRequest((SYSTEM, ChatMessage.text("user", long_text)), max_tokens=4, top_k=1)
        fired: list[float] = []

        def fire() -> None:
            fired.append(time.perf_counter())
            token.cancel()

        timer = threading.Timer(0.3, fire)
        timer.start()
        reply = session.generate(request, cancel=token)
        out["prefill_stop"] = time.perf_counter() - fired[0] if fired else float("nan")
        out["prefill_cancelled"] = float(reply.stop_reason == "cancelled" and reply.completion_tokens == 0)
        timer.join()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    model, mmproj = _files()
    size_mb = model.stat().st_size / 2**20
    ours, raw = bench_decode(model, mmproj, args.tokens)
    reuse = bench_reuse(model, mmproj, args.steps)
    stop = bench_stop(model, mmproj)
    rows = [
        ("model", f"random nemotron_h_moe {size_mb:.0f} MB, {BenchSize.pattern}", ""),
        ("decode tok/s: session / raw llama-cpp-python", f"{ours:.1f} / {raw:.1f}", f"{ours / raw:.2f}x"),
        (
            f"tokens evaluated over {args.steps} steps: reuse / scratch",
            f"{reuse['reuse_evaluated']:.0f} / {reuse['scratch_evaluated']:.0f}",
            f"{reuse['reuse_evaluated'] / reuse['scratch_evaluated']:.2f}x",
        ),
        (
            "prefill seconds over the steps: reuse / scratch",
            f"{reuse['reuse_prefill']:.2f} / {reuse['scratch_prefill']:.2f}",
            f"{reuse['reuse_prefill'] / reuse['scratch_prefill']:.2f}x",
        ),
        (
            "images encoded: reuse / scratch",
            f"{reuse['reuse_encoded']:.0f} / {reuse['scratch_encoded']:.0f}",
            f"{reuse['reuse_encoded'] / max(1, reuse['scratch_encoded']):.2f}x",
        ),
        (
            "stop latency during decode (s) / one decode step",
            f"{stop['decode_stop']:.4f} / {stop['decode_step']:.4f}",
            f"{stop['decode_stop'] / stop['decode_step']:.2f} steps",
        ),
        (
            "stop latency during prefill (s)",
            f"{stop['prefill_stop']:.4f}",
            "mid-prefill" if stop["prefill_cancelled"] else "prefill had finished",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'values':>24}  ratio")
    for name, values, ratio in rows:
        print(f"{name.ljust(width)}  {values:>24}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
