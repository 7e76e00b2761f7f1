"""Model-file validation: every bad file becomes a ModelFileError that names the problem."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import gguf
import pytest

from omnidesk.agent.errors import ModelFileError
from omnidesk.runtime.llama.gguf_file import GGML_TYPE_SIZES, read_gguf
from omnidesk.runtime.llama.validate import validate_mmproj, validate_model_files, validate_text_model
from tests.models.plugin import TinyModel
from tests.models.tiny_gguf import write_mmproj


def test_type_table_matches_the_gguf_package() -> None:
    for type_id, sizes in GGML_TYPE_SIZES.items():
        assert gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(type_id)] == sizes


def test_header_matches_the_gguf_package(tiny_omni: TinyModel) -> None:
    ours = read_gguf(tiny_omni.model)
    theirs = gguf.GGUFReader(tiny_omni.model)
    assert [t.name for t in ours.tensors] == [t.name for t in theirs.tensors]
    assert [t.nbytes for t in ours.tensors] == [int(t.n_bytes) for t in theirs.tensors]
    assert ours.data_offset == theirs.data_offset


def test_valid_files_pass(tiny_omni: TinyModel) -> None:
    assert tiny_omni.mmproj is not None
    text, mm = validate_model_files(tiny_omni.model, tiny_omni.mmproj)
    assert text.architecture == "nemotron_h_moe" and text.n_embd == 64 and text.n_layer == 3
    assert text.chat_template and "enable_thinking" in text.chat_template
    assert mm is not None and mm.has_vision and mm.has_audio
    assert mm.vision_projector == "nemotron_v2_vl" and mm.audio_projector == "parakeet"
    assert mm.image_size == tiny_omni.image_size


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        validate_text_model(tmp_path / "nope.gguf")


def test_not_a_gguf(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"<html>404 not found</html>" * 10)
    with pytest.raises(ModelFileError, match="not a valid GGUF"):
        validate_text_model(bad)


def test_wrong_architecture_names_what_was_found(tiny_llama: TinyModel) -> None:
    with pytest.raises(ModelFileError, match=r"'llama' model.*nemotron_h_moe"):
        validate_text_model(tiny_llama.model)


def test_mmproj_in_the_model_slot(tiny_omni: TinyModel) -> None:
    assert tiny_omni.mmproj is not None
    with pytest.raises(ModelFileError, match="--mmproj"):
        validate_text_model(tiny_omni.mmproj)


def test_text_model_in_the_mmproj_slot(tiny_omni: TinyModel) -> None:
    text = validate_text_model(tiny_omni.model)
    with pytest.raises(ModelFileError, match="not an mmproj"):
        validate_mmproj(tiny_omni.model, text)


def test_vision_only_mmproj_is_accepted(tiny_omni_vision_only: TinyModel) -> None:
    assert tiny_omni_vision_only.mmproj is not None
    _, mm = validate_model_files(tiny_omni_vision_only.model, tiny_omni_vision_only.mmproj)
    assert mm is not None and mm.has_vision and not mm.has_audio


def test_embedding_size_mismatch(tiny_omni: TinyModel, tmp_path: Path) -> None:
    other = write_mmproj(tmp_path / "mmproj-96.gguf", text_embd=96)
    with pytest.raises(ModelFileError, match=r"size 96.*embedding size 64"):
        validate_model_files(tiny_omni.model, other)


_LOAD_CUTS = r"""
import json, sys
from pathlib import Path
from omnidesk.agent.errors import ModelFileError
from omnidesk.runtime.llama.session import OmniSession

results = []
for model, mmproj in json.loads(sys.argv[1]):
    try:
        OmniSession.open(Path(model), Path(mmproj) if mmproj else None, n_ctx=256).close()
        results.append("loaded")
    except ModelFileError as exc:
        results.append("ModelFileError: " + str(exc))
print(json.dumps(results))
"""


def _cuts(path: Path, out_dir: Path) -> list[Path]:
    header = read_gguf(path)
    data = path.read_bytes()
    cuts = [8, 24, header.data_offset - 1, header.data_offset]
    cuts += [header.data_offset + t.offset for t in header.tensors[1:]]
    cuts.append(header.data_offset + header.tensors[-1].offset + header.tensors[-1].nbytes - 1)
    files = []
    for n in sorted(set(cuts)):
        cut = out_dir / f"{path.stem}-cut{n}.gguf"
        cut.write_bytes(data[:n])
        files.append(cut)
    return files


@pytest.mark.model
def test_truncated_files_fail_cleanly_in_a_real_load(tiny_omni: TinyModel, tmp_path: Path) -> None:
    """Cut both files at every tensor boundary: each cut is a ModelFileError, never a crash."""
    assert tiny_omni.mmproj is not None
    text_cuts = _cuts(tiny_omni.model, tmp_path)
    mmproj_cuts = _cuts(tiny_omni.mmproj, tmp_path)
    for cut in text_cuts + mmproj_cuts:
        with pytest.raises(ModelFileError, match=r"truncated|not a valid GGUF"):
            read_gguf(cut)
    pairs = [(str(c), "") for c in text_cuts] + [(str(tiny_omni.model), str(c)) for c in mmproj_cuts]
    pairs.append((str(tiny_omni.model), str(tiny_omni.mmproj)))
    proc = subprocess.run(
        [sys.executable, "-c", _LOAD_CUTS, json.dumps(pairs)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    assert results[-1] == "loaded"
    assert all(r.startswith("ModelFileError: ") for r in results[:-1]), results
    assert len(results) == len(pairs) > 20
