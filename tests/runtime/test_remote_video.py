"""What a remote engine says about its video serving: vLLM's ``/v1/models`` and dev-mode ``/server_info``
answers read into :class:`VideoServing`, anything malformed or missing read as "not said"."""

from __future__ import annotations

from omnidesk.agent.ports import VideoServing
from omnidesk.runtime.remote_video import video_serving_from

MODELS = {"object": "list", "data": [{"id": "nemotron", "owned_by": "vllm", "max_model_len": 131072}]}


def _info(multimodal: object) -> dict[str, object]:
    return {"vllm_config": {"model_config": {"multimodal_config": multimodal}}}


def test_launch_options_read_from_server_info() -> None:
    multimodal = {"video_pruning_rate": 0.5, "media_io_kwargs": {"video": {"num_frames": 512, "fps": 1}}}
    assert video_serving_from(MODELS, _info(multimodal)) == VideoServing("vllm", 131072, 0.5, 512, 1.0, exposed=True)
    # Launched without --video-pruning-rate: EVS is off, and that was said.
    assert video_serving_from(MODELS, _info({"video_pruning_rate": None})) == VideoServing(
        "vllm", 131072, 0.0, exposed=True
    )


def test_nothing_said_or_malformed_is_not_said() -> None:
    assert video_serving_from(MODELS, None) == VideoServing("vllm", 131072)
    assert video_serving_from(None, {"vllm_config": "ModelConfig(...)"}) == VideoServing("vllm")  # text format
    hostile = {"video_pruning_rate": "0.5", "media_io_kwargs": {"video": {"num_frames": True, "fps": 1e300}}}
    assert video_serving_from({"data": [{"max_model_len": -3}]}, _info(hostile)) == VideoServing(
        "vllm", None, 0.0, None, None, exposed=True
    )
