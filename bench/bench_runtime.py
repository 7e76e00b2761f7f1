"""The local model runtime against baselines measured in the same run, printed as tables.

    .venv/bin/python bench/bench_runtime.py [--tokens 128] [--steps 8]

Uses a "bench-size" random-weight ``nemotron_h_moe`` (a few hundred MB, cached in bench/out/) with the
tiny omni mmproj, on whatever CPU this is, and reports:

- decode speed: tokens/s through :class:`OmniSession` (Jinja rendering, streaming, reasoning split,
  sampler chain, abort callback) as a ratio to raw llama-cpp-python ``Llama.create_completion`` on the
  same model, prompt and greedy sampling;
- prefill per step (``prefill_layouts.py``): tokens each step of a scripted run evaluates in the trained
  computer-use layout (sliding window of 3 whole screenshots), in round one's append-only layout, and with
  nothing reused, on the Nemotron hybrid (state snapshots; 256-token images as the published 512² canvas
  gives) and on a Qwen3-VL architecture (attention cache cut back; 1080p screenshots, 2,040 tokens each);
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prefill_layouts import run_layouts
from omnidesk.agent.ports import (
    CancelToken,
    ChatMessage,
    ModelRequest,
    TokenDelta,
)
from omnidesk.runtime.llama.offload import default_threads
from omnidesk.runtime.llama.session import OmniSession, SessionProfile
from tests.models.tiny_gguf import BenchSize, write_mmproj, write_nemotron_h_moe
from tests.models.tiny_qwen import write_qwen_mmproj, write_qwen_text

OUT = Path(__file__).resolve().parent / "out"
SYSTEM = ChatMessage.text("system", "You operate a computer for the user. Answer with one action.")


def _files() -> tuple[Path, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    model, mmproj = OUT / "bench-nemotron-h-moe.gguf", OUT / "bench-mmproj-512.gguf"
    if not model.exists():
        write_nemotron_h_moe(model.with_suffix(".tmp"), size=BenchSize)
        model.with_suffix(".tmp").replace(model)
    if not mmproj.exists():  # the published canvas: 512², patch 16, 256 tokens per image
        write_mmproj(mmproj, text_embd=BenchSize.n_embd, image_size=512, patch_size=16, audio=False)
    return model, mmproj


def _qwen_files() -> tuple[Path, Path]:
    OUT.mkdir(parents=True, exist_ok=True)
    model, mmproj = OUT / "bench-qwen3-vl.gguf", OUT / "bench-qwen3-vl-mmproj.gguf"
    if not model.exists():
        write_qwen_text(model, "qwen3-vl")
    if not mmproj.exists():
        write_qwen_mmproj(mmproj, "qwen3-vl")
    return model, mmproj


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


def bench_prefill(session: OmniSession, n_steps: int, label: str) -> list[tuple[str, str, str]]:
    """Prefill tokens per step for the three layouts (see ``prefill_layouts.py``), as table rows."""
    results = run_layouts(session, n_steps)
    print(f"\nprefill tokens per step, {label} (evaluated / prompt; images encoded)")
    print(f"{'step':>4}  " + "  ".join(f"{name:>22}" for name in results))
    for step in range(n_steps):
        cells = [f"{c[step].evaluated:>6} / {c[step].prompt:<6} {c[step].images_encoded} img" for c in results.values()]
        print(f"{step + 1:>4}  " + "  ".join(f"{cell:>22}" for cell in cells))
    totals = {name: sum(c.evaluated for c in counts) for name, counts in results.items()}
    later = {name: sum(c.evaluated for c in counts[3:]) / max(1, n_steps - 3) for name, counts in results.items()}
    seconds = {name: sum(c.prefill_seconds for c in counts) for name, counts in results.items()}
    base = totals["resend-all"]
    return [
        (
            f"prefill tokens over {n_steps} steps, {label}: trained / round one / resend-all",
            f"{totals['trained']} / {totals['round one']} / {base}",
            f"{totals['trained'] / base:.2f}x / {totals['round one'] / base:.2f}x",
        ),
        (
            f"per step once the window slides (steps 4+), {label}",
            f"{later['trained']:.0f} / {later['round one']:.0f} / {later['resend-all']:.0f}",
            "",
        ),
        (
            f"prefill seconds, {label}: trained / round one / resend-all",
            f"{seconds['trained']:.2f} / {seconds['round one']:.2f} / {seconds['resend-all']:.2f}",
            f"{seconds['trained'] / seconds['resend-all']:.2f}x",
        ),
    ]


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
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--only-prefill", action="store_true", help="Only the prefill-per-step tables.")
    args = parser.parse_args()
    model, mmproj = _files()
    size_mb = model.stat().st_size / 2**20
    with OmniSession.open(model, mmproj, n_ctx=16384) as session:
        prefill_rows = bench_prefill(session, args.steps, "Nemotron hybrid")
    qwen_model, qwen_mmproj = _qwen_files()
    profile = SessionProfile(architectures=("qwen3vl",))
    with OmniSession.open(qwen_model, qwen_mmproj, profile=profile, n_ctx=16384, n_batch=2048) as session:
        prefill_rows += bench_prefill(session, args.steps, "Qwen3-VL attention")
    if args.only_prefill:
        _print_rows(prefill_rows)
        return 0
    ours, raw = bench_decode(model, mmproj, args.tokens)
    stop = bench_stop(model, mmproj)
    rows = [
        ("model", f"random nemotron_h_moe {size_mb:.0f} MB, {BenchSize.pattern}", ""),
        ("decode tok/s: session / raw llama-cpp-python", f"{ours:.1f} / {raw:.1f}", f"{ours / raw:.2f}x"),
        *prefill_rows,
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
    _print_rows(rows)
    return 0


def _print_rows(rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure'.ljust(width)}  {'values':>24}  ratio")
    for name, values, ratio in rows:
        print(f"{name.ljust(width)}  {values:>24}  {ratio}")


if __name__ == "__main__":
    sys.exit(main())
