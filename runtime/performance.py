"""How long will one agent step take on this machine? A measured-machine, counted-model estimate.

The machine side is measured (a float32 matrix product for compute, a large array copy for memory
bandwidth); the model side is counted from the GGUF headers (active bytes per token of a
mixture-of-experts model, vision-encoder work per patch, and each screenshot's tokens by the projector's
own sizing rule, :class:`~omnidesk.agent.canvas.ImageCanvas`). :func:`step_choices` puts the reasoning
choices side by side: the trained non-thinking variant, and thinking with a budget, each with the prefill
of the screenshots a step keeps. The result is an estimate for ``doctor``, stated with its assumptions,
never a promise.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from omnidesk.agent.canvas import ImageCanvas
from omnidesk.runtime.llama.gguf_file import GGUFFile
from omnidesk.runtime.llama.offload import OffloadPlan
from omnidesk.runtime.llama.projector import image_canvas

__all__ = [
    "MachineSpeed",
    "ModelWork",
    "StepChoice",
    "StepEstimate",
    "estimate_step",
    "measure_cpu",
    "model_work",
    "step_choices",
]

# llama.cpp's quantised CPU kernels reach roughly half of what a float32 BLAS product does.
_CPU_KERNEL_EFFICIENCY = 0.5
# Without a way to measure a GPU here, assume a mid-range card (what the estimate says in words).
_GPU_TFLOPS = 30.0
_GPU_GBPS = 500.0


@dataclass(frozen=True, slots=True)
class MachineSpeed:
    cpu_gflops: float
    ram_gbps: float


# What a step's prompt holds besides images (tokens), and what an answer without a thought takes: the
# Nemotron computer-use layout's instruction + step line per screenshot turn, a history entry per kept
# step, and a "## Action: … ## Code: …" answer. Assumptions, stated in doctor's line.
_TEXT_TOKENS_PER_TURN = 120
_ANSWER_TOKENS = 120


@dataclass(frozen=True, slots=True)
class ModelWork:
    """Per-token and per-image work of a model, counted from its headers.

    ``vision_flops_per_image`` is for the mmproj's own square size (fixed canvases: every image);
    :meth:`image_cost` gives the tokens and encoder work of a screenshot of any size.
    """

    active_bytes_per_token: int
    active_params_per_token: int
    vision_flops_per_image: float
    vision_flops_per_patch: float = 0.0
    canvas: ImageCanvas | None = None

    def image_cost(self, width: int, height: int) -> tuple[int, float]:
        """``(tokens, encoder FLOPs)`` of one ``width``×``height`` screenshot as the engine sizes it."""
        if self.canvas is None:
            return 0, self.vision_flops_per_image
        view = self.canvas.view(width, height)
        patches = (view.width // self.canvas.patch) * (view.height // self.canvas.patch)
        return view.tokens, self.vision_flops_per_patch * patches


@dataclass(frozen=True, slots=True)
class StepEstimate:
    seconds: float
    encode_seconds: float
    prefill_seconds: float
    decode_seconds: float

    def describe(self) -> str:
        return (
            f"about {self.seconds:.0f} s per step (image encoding {self.encode_seconds:.1f} s, "
            f"prompt {self.prefill_seconds:.1f} s, answer {self.decode_seconds:.1f} s)"
        )


def measure_cpu(matrix: int = 768, copy_mib: int = 128) -> MachineSpeed:
    """Measure float32 matmul GFLOP/s and memory copy GB/s (best of a few runs, well under a second)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((matrix, matrix), dtype=np.float32)
    b = rng.standard_normal((matrix, matrix), dtype=np.float32)
    best = float("inf")
    for _ in range(4):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    gflops = 2 * matrix**3 / best / 1e9
    src = np.ones(copy_mib * 2**20 // 8, dtype=np.float64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return MachineSpeed(cpu_gflops=gflops, ram_gbps=2 * src.nbytes / best / 1e9)


def _elements(shape: tuple[int, ...]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def model_work(text: GGUFFile, mmproj: GGUFFile | None) -> ModelWork:
    """Bytes and parameters touched per token (experts counted at their used share) and vision FLOPs."""
    arch = text.architecture
    n_expert = text.get_int(f"{arch}.expert_count") or 0
    n_used = text.get_int(f"{arch}.expert_used_count") or n_expert
    share = n_used / n_expert if n_expert else 1.0
    active_bytes = 0.0
    active_params = 0.0
    for tensor in text.tensors:
        if tensor.name == "token_embd.weight":
            continue  # a lookup: one row per token
        weight = share if "_exps" in tensor.name else 1.0
        active_bytes += tensor.nbytes * weight
        active_params += _elements(tensor.shape) * weight
    vision_flops = per_patch = 0.0
    canvas = None
    if mmproj is not None:
        size = mmproj.get_int("clip.vision.image_size") or 0
        patch = mmproj.get_int("clip.vision.patch_size") or 0
        patches = (size // patch) ** 2 if size and patch else 0
        vision_params = sum(
            _elements(t.shape) for t in mmproj.tensors if t.name.startswith(("v.", "mm.")) and "mm.a." not in t.name
        )
        per_patch = 2.0 * vision_params
        vision_flops = per_patch * patches
        canvas = image_canvas(mmproj)
    return ModelWork(int(active_bytes), int(active_params), vision_flops, per_patch, canvas)


def estimate_step(
    work: ModelWork,
    plan: OffloadPlan,
    n_layer: int,
    speed: MachineSpeed,
    *,
    images: int = 3,
    prompt_tokens: int = 900,
    answer_tokens: int = 80,
) -> StepEstimate:
    """Seconds for one agent step: encode ``images``, evaluate ``prompt_tokens`` new tokens, write ``answer_tokens``.

    The GPU share of the work is the share of layers the plan offloads (experts kept on the CPU move
    their bytes back to RAM); the GPU itself is assumed mid-range, since nothing here can measure it.
    """
    gpu_share = min(1.0, plan.n_gpu_layers / (n_layer + 1)) if n_layer else 0.0
    total = plan.vram_bytes + plan.ram_bytes
    ram_share = plan.ram_bytes / total if total else 1.0 - gpu_share
    cpu_flops = speed.cpu_gflops * 1e9 * _CPU_KERNEL_EFFICIENCY
    gpu_flops = _GPU_TFLOPS * 1e12

    def compute_seconds(flops: float, share_on_gpu: float) -> float:
        return flops * (1 - share_on_gpu) / cpu_flops + flops * share_on_gpu / gpu_flops

    per_token_flops = 2.0 * work.active_params_per_token
    encode = compute_seconds(work.vision_flops_per_image * images, 1.0 if plan.mmproj_on_gpu else 0.0)
    prefill = compute_seconds(per_token_flops * prompt_tokens, gpu_share)
    per_token_read = work.active_bytes_per_token
    decode_per_token = per_token_read * ram_share / (speed.ram_gbps * 1e9) + per_token_read * (1 - ram_share) / (
        _GPU_GBPS * 1e9
    )
    decode = decode_per_token * answer_tokens
    return StepEstimate(encode + prefill + decode, encode, prefill, decode)


@dataclass(frozen=True, slots=True)
class StepChoice:
    """One reasoning choice and what a step with it costs (``bound``: the thought runs to its budget)."""

    label: str
    estimate: StepEstimate
    bound: bool = False

    def describe(self) -> str:
        return f"{self.label}: {'up to ' if self.bound else 'about '}{self.estimate.seconds:.0f} s"


def step_choices(
    work: ModelWork,
    plan: OffloadPlan,
    n_layer: int,
    speed: MachineSpeed,
    *,
    screen: tuple[int, int] = (1920, 1080),
    screenshots: int = 3,
    budgets: tuple[tuple[int, int], ...] = ((1024, 0), (16384, 1024)),
) -> tuple[int, list[StepChoice]]:
    """Seconds per step for non-thinking and for thinking with each ``(budget, grace)``.

    A step of the trained layout (once its screenshot window is full) encodes one new screenshot (the kept
    ones come from the embedding cache) and prefills every kept screenshot's tokens with its turn's text
    (the system prompt is reused); thinking adds the thought to the answer, and the kept steps' thoughts
    to the prompt (the history keeps them). Returns the tokens of one screenshot and the choices.
    """
    tokens, vision_flops = work.image_cost(*screen)
    one_image = ModelWork(
        work.active_bytes_per_token, work.active_params_per_token, vision_flops, work.vision_flops_per_patch
    )
    prompt = screenshots * (tokens + _TEXT_TOKENS_PER_TURN)
    choices = [
        StepChoice(
            "non-thinking",
            estimate_step(
                one_image, plan, n_layer, speed, images=1, prompt_tokens=prompt, answer_tokens=_ANSWER_TOKENS
            ),
        )
    ]
    for budget, grace in budgets:
        thought = budget + grace
        estimate = estimate_step(
            one_image,
            plan,
            n_layer,
            speed,
            images=1,
            prompt_tokens=prompt + (screenshots - 1) * thought,
            answer_tokens=thought + _ANSWER_TOKENS,
        )
        label = f"thinking, budget {budget}" + (f" + {grace}" if grace else "")
        choices.append(StepChoice(label, estimate, bound=True))
    return tokens, choices
