"""The seconds-per-step estimate: counted from GGUF headers, measured on this machine."""

from __future__ import annotations

from pathlib import Path

from omnidesk.runtime.llama.gguf_file import GGUFFile, TensorInfo
from omnidesk.runtime.llama.offload import OffloadPlan
from omnidesk.runtime.performance import MachineSpeed, estimate_step, measure_cpu, model_work

Q4_K = 12


def _q4(name: str, *shape: int) -> TensorInfo:
    n = 1
    for d in shape:
        n *= d
    return TensorInfo(name, shape, Q4_K, 0, n // 256 * 144)


def _moe_header(n_layer: int = 4, n_embd: int = 1024, n_expert: int = 128, n_used: int = 6) -> GGUFFile:
    tensors = [_q4("token_embd.weight", n_embd, 32768), _q4("output.weight", n_embd, 32768)]
    for il in range(n_layer):
        tensors.append(_q4(f"blk.{il}.attn_q.weight", n_embd, n_embd))
        tensors.append(_q4(f"blk.{il}.ffn_up_exps.weight", n_embd, 512, n_expert))
        tensors.append(_q4(f"blk.{il}.ffn_down_exps.weight", 512, n_embd, n_expert))
    meta = {
        "general.architecture": "nemotron_h_moe",
        "nemotron_h_moe.block_count": n_layer,
        "nemotron_h_moe.expert_count": n_expert,
        "nemotron_h_moe.expert_used_count": n_used,
    }
    return GGUFFile(Path("x.gguf"), 3, dict(meta), tuple(tensors), 0, sum(t.nbytes for t in tensors))


def _mmproj() -> GGUFFile:
    tensors = (_q4("v.blk.0.ffn_up.weight", 1280, 5120), _q4("mm.model.mlp.1.weight", 5120, 1024))
    meta = {"clip.vision.image_size": 512, "clip.vision.patch_size": 16}
    return GGUFFile(Path("m.gguf"), 3, dict(meta), tensors, 0, sum(t.nbytes for t in tensors))


def test_experts_count_at_their_used_share() -> None:
    header = _moe_header()
    work = model_work(header, None)
    experts = sum(t.nbytes for t in header.tensors if "_exps" in t.name)
    dense = sum(t.nbytes for t in header.tensors if "_exps" not in t.name and t.name != "token_embd.weight")
    assert work.active_bytes_per_token == int(dense + experts * 6 / 128)
    assert work.vision_flops_per_image == 0


def test_vision_work_scales_with_patches() -> None:
    work = model_work(_moe_header(), _mmproj())
    assert work.vision_flops_per_image == 2.0 * (1280 * 5120 + 5120 * 1024) * (512 // 16) ** 2


def test_estimate_grows_with_work_and_shrinks_on_gpu() -> None:
    header, mmproj = _moe_header(), _mmproj()
    work = model_work(header, mmproj)
    speed = MachineSpeed(cpu_gflops=100.0, ram_gbps=20.0)
    cpu = OffloadPlan(0, False, False, 0, header.file_size, "cpu")
    gpu = OffloadPlan(5, False, True, header.file_size, 0, "gpu")
    small = estimate_step(work, cpu, 4, speed, images=1, prompt_tokens=100, answer_tokens=10)
    large = estimate_step(work, cpu, 4, speed, images=3, prompt_tokens=900, answer_tokens=80)
    assert 0 < small.seconds < large.seconds
    assert large.seconds == large.encode_seconds + large.prefill_seconds + large.decode_seconds
    on_gpu = estimate_step(work, gpu, 4, speed)
    assert on_gpu.seconds < large.seconds / 10
    assert "per step" in large.describe()


def test_measure_cpu_reports_plausible_numbers() -> None:
    speed = measure_cpu(matrix=256, copy_mib=16)
    assert 0.1 < speed.cpu_gflops < 100_000
    assert 0.1 < speed.ram_gbps < 10_000
