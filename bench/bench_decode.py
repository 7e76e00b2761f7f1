"""Prefill and decode speed of :class:`OmniSession` against llama.cpp's own C++ path, in the same run.

    .venv/bin/python bench/bench_decode.py [--rounds 5] [--tokens 64] [--history 0] [--flash-attn on|off]
                                           [--llama-bench PATH] [--core N]

Every arm runs the bench-size random ``nemotron_h_moe`` (bench/bench_runtime.py's cached model) with the
same threads (the runtime's default), n_batch / n_ubatch (the shipped ``model.batch_size`` and
``model.ubatch_size``), flash-attention setting and prompt (the chat-templated system + user turns that
OmniSession evaluates, as token ids), pinned to one CPU core, in alternating order over ``--rounds``
rounds (each arm loaded once, before the rounds); ``--history N`` puts N lines of task history in the
user turn, for prompts the size of an agent step's. Per round and arm:

- **OmniSession** (ours): ``generate`` from an empty cache (``reset()``), greedy; prefill = prompt tokens /
  ``prefill_seconds``, decode = completion tokens / ``decode_seconds`` (sampling, the reasoning split and
  the token callbacks included).
- **llama-bench** (C++): llama.cpp's own benchmark, built from the llama.cpp source bundled with the
  installed llama-cpp-python, configured as that package's wheel is built (its own top-level
  CMakeLists, Release, its defaults: native CPU flags, OpenMP), plus ``LLAMA_BUILD_TOOLS=ON``.
  Prefill = ``pp<P>`` at depth 0; decode = ``tg<N>`` at depth P (the prompt already in the cache, as in
  ours). It feeds tokens without sampling, so the ratio charges our sampler to us.
- **Llama.generate()**: llama-cpp-python's plain token generator (no detokenizing), greedy; prefill =
  P / time to the first token, decode = the next N-1 tokens over their time.
- **xllamacpp server**: ``/completion`` with the same token ids, ``cache_prompt`` off, greedy, EOS
  ignored; its own ``timings`` (prompt_per_second, predicted_per_second). A second reference: a
  different llama.cpp build (xllamacpp's wheel), not the same code.

Where our prefill can trail: on this hybrid (recurrent) model the prefix cache evaluates a cold prompt in
two parts, to the end of the system turn and the rest, saving a state snapshot after each (the system
turn's for later steps whose history changed, the whole prompt's with its logits for a next step that
extends it; recurrent state cannot be cut back, and exists only where a batch ends). The saves take a few
ms; the split costs one more llama_decode call (with a prompt shorter than one micro-batch, one more pass
over the weights, about one decode step; nothing at agent sizes: ``--history 40`` gives about 2,000
tokens). A later step of a session finds the system turn saved and does not split there. llama-bench and
``Llama.generate()`` evaluate the prompt in one call and keep nothing.

The ratios are ours / baseline per round; the table shows their median and spread (min-max) and each
arm's median tokens/s, with the load average at start and end (the machine may be shared).

llama-bench is built on demand (once, several minutes) in ``$XDG_CACHE_HOME/omnidesk/bench`` (default
``~/.cache/omnidesk/bench``): ``pip download --no-deps --no-binary :all: llama-cpp-python==<installed>``,
unpack, ``cmake -S <sdist> -B build-<version> -DCMAKE_BUILD_TYPE=Release -DLLAVA_BUILD=OFF
-DLLAMA_BUILD_TOOLS=ON``, ``cmake --build ... --target llama-bench``. ``--llama-bench PATH`` uses a
binary you already have instead.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_runtime import SYSTEM, _files
from omnidesk.agent.ports import ChatMessage, ModelRequest
from omnidesk.runtime.config import ModelConfig
from omnidesk.runtime.llama.offload import default_threads
from omnidesk.runtime.llama.session import OmniSession

SHIPPED = ModelConfig()
N_BATCH, N_UBATCH = SHIPPED.batch_size, SHIPPED.ubatch_size
N_CTX = 4096
USER = "Describe the next step of the task in detail."
Rates = tuple[float, float]  # prefill tok/s, decode tok/s


def _cache() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "omnidesk" / "bench"


def build_llama_bench() -> Path:
    """llama-bench from the installed llama-cpp-python's own sdist (downloaded and built once)."""
    ver = version("llama_cpp_python")
    cache = _cache()
    build = cache / f"build-{ver}"
    binary = build / "bin" / "llama-bench"
    if binary.exists():
        return binary
    source = cache / f"llama_cpp_python-{ver}"
    if not (source / "CMakeLists.txt").exists():
        sdists = cache / "sdist"
        sdists.mkdir(parents=True, exist_ok=True)
        archive = sdists / f"llama_cpp_python-{ver}.tar.gz"
        if not archive.exists():
            print(f"downloading the llama-cpp-python {ver} sdist", file=sys.stderr)
            pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(sdists)]
            subprocess.run([*pip, f"llama-cpp-python=={ver}"], check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
    print(f"building llama-bench from {source.name} (once; several minutes)", file=sys.stderr)
    configure = ["cmake", "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DLLAVA_BUILD=OFF"]
    subprocess.run([*configure, "-DLLAMA_BUILD_TOOLS=ON"], check=True)
    jobs = str(len(os.sched_getaffinity(0)))
    subprocess.run(["cmake", "--build", str(build), "--target", "llama-bench", "-j", jobs], check=True)
    return binary


class Omni:
    name = "OmniSession (ours)"

    def __init__(self, model: Path, mmproj: Path, request: ModelRequest, threads: int, fa: bool) -> None:
        self.request = request
        self.session = OmniSession.open(
            model, mmproj, n_ctx=N_CTX, n_batch=N_BATCH, n_ubatch=N_UBATCH, n_threads=threads, flash_attn=fa
        )
        self.prompt_tokens, _ = self.session.count_tokens(request)
        self.prompt_text = self.session.prompt_text(request)
        self.session.generate(ModelRequest(request.messages, max_tokens=4, top_k=1, enable_thinking=False))

    def run(self) -> Rates:
        self.session.reset()
        reply = self.session.generate(self.request)
        if reply.reused_tokens:
            raise RuntimeError("the prompt came from the cache; the prefill was not measured")
        return reply.prompt_tokens / reply.prefill_seconds, reply.completion_tokens / reply.decode_seconds

    def close(self) -> None:
        self.session.close()


class LlamaBench:
    name = "llama-bench (C++)"

    def __init__(self, binary: Path, model: Path, n_prompt: int, n_gen: int, threads: int, fa: bool) -> None:
        common = [str(binary), "-m", str(model), "-b", str(N_BATCH), "-ub", str(N_UBATCH), "-t", str(threads)]
        common += ["-fa", "on" if fa else "off", "-ngl", "0", "-r", "1", "-o", "json"]
        # Two runs, so neither measures what the other needs: the prompt from an empty cache, then the
        # answer's tokens after a prompt-sized cache (each run warms up first, as llama-bench does).
        self.prefill = [*common, "-p", str(n_prompt), "-n", "0", "-d", "0"]
        self.decode = [*common, "-p", "0", "-n", str(n_gen), "-d", str(n_prompt)]

    def _rate(self, argv: list[str]) -> float:
        tests = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True).stdout)
        if len(tests) != 1:
            raise RuntimeError(f"llama-bench ran {len(tests)} tests, not one: {argv}")
        return float(tests[0]["avg_ts"])

    def run(self) -> Rates:
        return self._rate(self.prefill), self._rate(self.decode)

    def close(self) -> None:
        pass


class Generate:
    name = "Llama.generate()"

    def __init__(self, model: Path, prompt: str, n_prompt: int, n_gen: int, threads: int, fa: bool) -> None:
        from llama_cpp import Llama

        self.n_gen = n_gen
        self.llm = Llama(
            model_path=str(model),
            n_ctx=N_CTX,
            n_batch=N_BATCH,
            n_ubatch=N_UBATCH,
            n_threads=threads,
            n_threads_batch=threads,
            flash_attn=fa,
            verbose=False,
        )
        # Tokenized as OmniSession and the server do: special tokens parsed, the model's BOS if it has one.
        self.tokens = self.llm.tokenize(prompt.encode(), add_bos=True, special=True)
        if len(self.tokens) != n_prompt:
            raise RuntimeError(f"{len(self.tokens)} prompt tokens here, {n_prompt} in OmniSession: not the same prompt")
        self._once(4)

    def _once(self, n_gen: int) -> tuple[float, float, int]:
        self.llm.reset()
        start = time.perf_counter()
        first, count = start, 0
        for _token in self.llm.generate(self.tokens, top_k=1, temp=0.0, reset=True):
            count += 1
            if count == 1:
                first = time.perf_counter()
            if count == n_gen:
                break
        return first - start, time.perf_counter() - first, count

    def run(self) -> Rates:
        prefill, decode, count = self._once(self.n_gen)
        return len(self.tokens) / prefill, (count - 1) / decode

    def close(self) -> None:
        self.llm.close()


class Server:
    name = "xllamacpp server (other build)"

    def __init__(self, model: Path, tokens: list[int], n_gen: int, threads: int, fa: bool) -> None:
        import httpx

        from tests.models.llama_server import llama_server

        self._context = llama_server(
            model, n_ctx=N_CTX, n_batch=N_BATCH, n_ubatch=N_UBATCH, flash_attn=fa, n_threads=threads
        )
        self.url = self._context.__enter__()
        self.client = httpx.Client(timeout=600)
        self.body = {
            "prompt": tokens,
            "n_predict": n_gen,
            "cache_prompt": False,
            "top_k": 1,
            "temperature": 0.0,
            "ignore_eos": True,
        }
        self._post({**self.body, "n_predict": 4})

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(f"{self.url}/completion", json=body)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def run(self) -> Rates:
        timings = self._post(self.body)["timings"]
        return float(timings["prompt_per_second"]), float(timings["predicted_per_second"])

    def close(self) -> None:
        self.client.close()
        self._context.__exit__(None, None, None)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f}x ({min(values):.3f}-{max(values):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64, help="Tokens to decode per round.")
    parser.add_argument("--flash-attn", choices=("on", "off"), default="on")
    parser.add_argument("--llama-bench", type=Path, default=None, help="Use this llama-bench binary.")
    parser.add_argument("--core", type=int, default=None, help="The CPU core to pin to (default: the last one).")
    parser.add_argument("--no-server", action="store_true", help="Leave out the xllamacpp reference.")
    parser.add_argument(
        "--history", type=int, default=0, help="Lines of task history in the user turn (agent-sized prompts)."
    )
    args = parser.parse_args()
    core = args.core if args.core is not None else max(os.sched_getaffinity(0))
    binary = args.llama_bench or build_llama_bench()
    os.sched_setaffinity(0, {core})  # every arm and its child processes on the same single core
    load_before = os.getloadavg()
    model, mmproj = _files()
    threads, fa = default_threads(), args.flash_attn == "on"
    history = "".join(f"{i + 1}. Clicked the button labelled Continue in the dialog.\n" for i in range(args.history))
    user = f"# Previous History Actions:\n{history}\n{USER}" if history else USER
    request = ModelRequest(
        (SYSTEM, ChatMessage.text("user", user)), max_tokens=args.tokens, top_k=1, enable_thinking=False
    )
    omni = Omni(model, mmproj, request, threads, fa)
    generate = Generate(model, omni.prompt_text, omni.prompt_tokens, args.tokens, threads, fa)
    arms: list[Any] = [omni, LlamaBench(binary, model, omni.prompt_tokens, args.tokens, threads, fa), generate]
    if not args.no_server:
        arms.append(Server(model, generate.tokens, args.tokens, threads, fa))
    results: dict[str, list[Rates]] = {arm.name: [] for arm in arms}
    try:
        for round_ in range(args.rounds):
            order = arms[round_ % len(arms) :] + arms[: round_ % len(arms)]
            for arm in order if round_ % 2 == 0 else order[::-1]:
                results[arm.name].append(arm.run())
    finally:
        for arm in arms:
            arm.close()
    load_after = os.getloadavg()

    print(
        f"random nemotron_h_moe {model.stat().st_size / 2**20:.0f} MB; prompt {omni.prompt_tokens} tokens "
        f"(system + user, chat template), decode {args.tokens} tokens; threads {threads}, n_batch {N_BATCH}, "
        f"n_ubatch {N_UBATCH}, flash-attn {args.flash_attn}; core {core}; {args.rounds} rounds, alternating"
    )
    print(f"llama-cpp-python {version('llama_cpp_python')}; llama-bench {binary}")
    load = ", ".join(f"{x:.2f}" for x in load_before) + " -> " + ", ".join(f"{x:.2f}" for x in load_after)
    print(f"load average (1, 5, 15 min): {load}")
    ours = results[omni.name]
    print(
        f"\n{'arm':<32} {'prefill tok/s':>14} {'decode tok/s':>13}  {'ours/arm prefill':>26}  {'ours/arm decode':>26}"
    )
    for arm in arms:
        rates = results[arm.name]
        pre = [o[0] / r[0] for o, r in zip(ours, rates, strict=True)]
        dec = [o[1] / r[1] for o, r in zip(ours, rates, strict=True)]
        pre_median, dec_median = statistics.median(r[0] for r in rates), statistics.median(r[1] for r in rates)
        print(f"{arm.name:<32} {pre_median:>14.1f} {dec_median:>13.1f}  {_spread(pre):>26}  {_spread(dec):>26}")
    print("ratios: median of the per-round ratios (min-max); goal >= 0.95x llama-bench for prefill and decode")
    return 0


if __name__ == "__main__":
    sys.exit(main())
