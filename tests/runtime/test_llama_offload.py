"""GPU offload decisions from GGUF sizes and made-up device numbers (no GPU needed)."""

from __future__ import annotations

import logging

import pytest

from omnidesk.runtime.llama.gguf_file import read_gguf
from omnidesk.runtime.llama.offload import (
    DeviceMemory,
    GiB,
    ModelFootprint,
    default_threads,
    footprint_from_gguf,
    plan_offload,
)
from tests.models.plugin import TinyModel

# A Nemotron-3-Nano-shaped footprint: 52 blocks, 23 of them MoE with ~0.9 GiB of experts each.
NANO = ModelFootprint(
    n_layer=52,
    dense_bytes=tuple([40 * 1024**2] * 52),
    expert_bytes=tuple([int(0.9 * GiB) if i % 2 else 0 for i in range(46)] + [0] * 6),
    cache_bytes=tuple([64 * 1024**2 if i % 9 == 0 else 2 * 1024**2 for i in range(52)]),
    other_bytes=int(0.5 * GiB),
    mmproj_bytes=int(1.5 * GiB),
)


def test_cpu_build_runs_on_the_cpu() -> None:
    plan = plan_offload(NANO, DeviceMemory(free_vram=80 * GiB, free_ram=64 * GiB, gpu_offload_supported=False))
    assert plan.n_gpu_layers == 0 and not plan.experts_on_cpu
    assert "no GPU support" in plan.explanation and "CUDA build" in plan.explanation


def test_big_gpu_takes_everything() -> None:
    plan = plan_offload(NANO, DeviceMemory(free_vram=80 * GiB, free_ram=64 * GiB, gpu_offload_supported=True))
    assert plan.n_gpu_layers == NANO.n_layer + 1 and plan.mmproj_on_gpu and plan.ram_bytes == 0
    assert "fits" in plan.explanation


def test_small_gpu_keeps_experts_in_ram_when_the_loader_can() -> None:
    mem = DeviceMemory(free_vram=8 * GiB, free_ram=64 * GiB, gpu_offload_supported=True, gpu_name="RTX 4060")
    plan = plan_offload(NANO, mem)  # the loader can pin experts (overrides.py)
    assert plan.experts_on_cpu and plan.n_gpu_layers == NANO.n_layer + 1
    assert plan.ram_bytes == sum(NANO.expert_bytes)
    assert plan.vram_bytes <= 8 * GiB
    assert "--cpu-moe" in plan.explanation


def test_small_gpu_offloads_whole_layers_otherwise() -> None:
    mem = DeviceMemory(free_vram=8 * GiB, free_ram=64 * GiB, gpu_offload_supported=True)
    plan = plan_offload(NANO, mem, can_keep_experts_on_cpu=False)
    assert not plan.experts_on_cpu and 0 < plan.n_gpu_layers < NANO.n_layer
    assert plan.vram_bytes <= 8 * GiB - 768 * 1024**2
    assert plan.vram_bytes + plan.ram_bytes == NANO.total_bytes
    assert f"{plan.n_gpu_layers} of 52 layers" in plan.explanation


def test_too_little_ram_is_a_warning() -> None:
    mem = DeviceMemory(free_vram=0, free_ram=4 * GiB, gpu_offload_supported=True)
    plan = plan_offload(NANO, mem)
    assert plan.n_gpu_layers == 0 and "paged from disk" in plan.explanation


def test_footprint_of_the_tiny_model(tiny_omni: TinyModel) -> None:
    assert tiny_omni.mmproj is not None
    text, mmproj = read_gguf(tiny_omni.model), read_gguf(tiny_omni.mmproj)
    fp = footprint_from_gguf(text, mmproj, n_ctx=1000)
    assert fp.n_layer == 3
    # Layer 0 Mamba (state only), 1 attention (KV grows with context), 2 MoE (experts).
    assert fp.expert_bytes[0] == fp.expert_bytes[1] == 0 and fp.expert_bytes[2] > 0
    assert fp.cache_bytes[1] == 1000 * 2 * (16 + 16) * 2
    assert fp.cache_bytes[0] > 0 and fp.cache_bytes[2] == 0
    assert fp.mmproj_bytes == mmproj.tensor_bytes
    assert sum(fp.dense_bytes) + sum(fp.expert_bytes) + fp.other_bytes == text.tensor_bytes
    bigger = footprint_from_gguf(text, mmproj, n_ctx=2000)
    assert bigger.cache_bytes[1] == 2 * fp.cache_bytes[1] and bigger.cache_bytes[0] == fp.cache_bytes[0]


def test_default_threads_counts_physical_cores() -> None:
    smt = []
    for cpu in range(8):  # 4 cores x 2 threads
        smt += [f"processor\t: {cpu}", "physical id\t: 0", f"core id\t\t: {cpu % 4}", ""]
    assert default_threads(smt) == 3
    assert default_threads([], cpu_count=2) == 1
    assert default_threads([], cpu_count=1) == 1


@pytest.mark.model
def test_expert_override_is_accepted_by_libllama(tiny_omni: TinyModel, caplog: pytest.LogCaptureFixture) -> None:
    """The ctypes override array reaches libllama (it logs each overridden tensor) and changes nothing else."""
    from omnidesk.agent.ports import ChatMessage, ModelRequest
    from omnidesk.runtime.llama.session import OmniSession

    caplog.set_level(logging.DEBUG, logger="omnidesk.runtime.llama.native")
    request = ModelRequest((ChatMessage.text("user", "hello"),), max_tokens=8, seed=5, temperature=1.0)
    with OmniSession.open(tiny_omni.model, None, n_ctx=256, experts_on_cpu=True) as pinned:
        pinned_reply = pinned.generate(request)
    overridden = [r.getMessage() for r in caplog.records if "_exps" in r.getMessage() and "CPU" in r.getMessage()]
    assert overridden, "libllama did not report the expert-tensor override"
    with OmniSession.open(tiny_omni.model, None, n_ctx=256) as plain:
        plain_reply = plain.generate(request)
    assert (pinned_reply.text, pinned_reply.reasoning) == (plain_reply.text, plain_reply.reasoning)


@pytest.mark.gpu
def test_gpu_offload_with_experts_in_ram(tiny_omni: TinyModel) -> None:
    """On a CUDA build: all layers on the GPU with experts pinned to RAM load, see and generate."""
    import llama_cpp

    if not llama_cpp.llama_supports_gpu_offload():
        pytest.skip("this llama-cpp-python build has no GPU offload (CPU build)")
    from omnidesk.agent.ports import ChatMessage, ModelRequest
    from omnidesk.runtime.llama.session import OmniSession

    request = ModelRequest((ChatMessage.text("user", "hello"),), max_tokens=8, top_k=1)
    with OmniSession.open(tiny_omni.model, tiny_omni.mmproj, n_ctx=256, n_gpu_layers=99, experts_on_cpu=True) as gpu:
        on_gpu = gpu.generate(request)
    with OmniSession.open(tiny_omni.model, tiny_omni.mmproj, n_ctx=256, n_gpu_layers=0) as cpu:
        on_cpu = cpu.generate(request)
    assert on_gpu.completion_tokens >= 1 and on_gpu.stop_reason in ("length", "stop")
    assert on_gpu.prompt_tokens == on_cpu.prompt_tokens


def test_detect_memory_reads_this_machine() -> None:
    from omnidesk.runtime.llama.offload import detect_memory
    from omnidesk.runtime.system_probe import available_memory_bytes, nvidia_gpus

    memory = detect_memory(gpu_offload_supported=False)
    assert memory.free_vram == 0 and memory.gpu_name == ""  # no GPU backend: VRAM does not count
    assert abs(memory.free_ram - available_memory_bytes()) < 2**30
    with_gpu = detect_memory(gpu_offload_supported=True)
    gpus = nvidia_gpus()
    assert with_gpu.free_vram == (gpus[0].free_bytes if gpus else 0)
