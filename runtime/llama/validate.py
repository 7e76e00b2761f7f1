"""Model-file checks before llama.cpp sees the files (llama.cpp may abort the process on bad input).

:func:`validate_text_model` and :func:`validate_mmproj` read GGUF headers only and raise
:class:`ModelFileError` with a message that says what is wrong and what to do: a missing, truncated or
corrupt file, a text model of an architecture Omnidesk does not run, a file given in the wrong slot, or an
mmproj whose projector output does not match the text model's embedding size. An mmproj without an
audio encoder is accepted (vision works); asking it for audio later raises ``ModelCapabilityError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omnidesk.agent.errors import ModelFileError
from omnidesk.runtime.llama.gguf_file import GGUFFile, read_gguf

__all__ = [
    "DEFAULT_ARCHITECTURES",
    "MmprojInfo",
    "TextModelInfo",
    "validate_mmproj",
    "validate_model_files",
    "validate_text_model",
    "verify_files",
]

DEFAULT_ARCHITECTURES: tuple[str, ...] = ("nemotron_h_moe",)

# Projector output tensors: their ``ne[1]`` is the text embedding size they feed.
_PROJECTOR_OUTPUTS = ("mm.model.mlp.3.weight", "mm.2.weight", "mm.a.mlp.2.weight")


@dataclass(frozen=True, slots=True)
class TextModelInfo:
    path: Path
    architecture: str
    name: str
    n_embd: int
    n_layer: int
    context_length: int
    n_expert: int
    chat_template: str | None
    header: GGUFFile


@dataclass(frozen=True, slots=True)
class MmprojInfo:
    path: Path
    has_vision: bool
    has_audio: bool
    vision_projector: str | None
    audio_projector: str | None
    image_size: int | None
    header: GGUFFile


def validate_text_model(path: Path, architectures: tuple[str, ...] = DEFAULT_ARCHITECTURES) -> TextModelInfo:
    """Check a text-model GGUF; ``architectures`` are those the chosen profile runs."""
    header = read_gguf(path)
    arch = header.architecture
    if not arch:
        raise ModelFileError(f"{path} has no general.architecture key; it is not a usable model file")
    if arch == "clip":
        raise ModelFileError(
            f"{path} is an mmproj (vision/audio projector), not a text model; pass it with --mmproj "
            "and give the main model GGUF with --model"
        )
    if arch not in architectures:
        raise ModelFileError(
            f"{path} is a {arch!r} model, but this profile runs {', '.join(architectures)}; "
            "pick the matching --profile or download the right model (`omnidesk models pull`)"
        )
    n_embd = header.get_int(f"{arch}.embedding_length")
    n_layer = header.get_int(f"{arch}.block_count")
    if not n_embd or not n_layer:
        raise ModelFileError(
            f"{path} lacks {arch}.embedding_length or {arch}.block_count; the file is damaged or was "
            "written by an incompatible converter — download it again"
        )
    return TextModelInfo(
        path=Path(path),
        architecture=arch,
        name=header.get_str("general.name") or Path(path).stem,
        n_embd=n_embd,
        n_layer=n_layer,
        context_length=header.get_int(f"{arch}.context_length") or 0,
        n_expert=header.get_int(f"{arch}.expert_count") or 0,
        chat_template=header.get_str("tokenizer.chat_template"),
        header=header,
    )


def _projector_output_dims(header: GGUFFile, prefix: str) -> set[int]:
    dims: set[int] = set()
    key = header.get_int(f"clip.{prefix}.projection_dim")
    if key:
        dims.add(key)
    for name in _PROJECTOR_OUTPUTS:
        is_audio = name.startswith("mm.a.")
        if is_audio != (prefix == "audio"):
            continue
        tensor = header.tensor(name)
        if tensor is not None and len(tensor.shape) >= 2:
            dims.add(tensor.shape[1])
    return dims


def validate_mmproj(path: Path, text: TextModelInfo) -> MmprojInfo:
    """Check an mmproj GGUF against the text model it will feed."""
    header = read_gguf(path)
    if header.architecture != "clip":
        raise ModelFileError(
            f"{path} is a {header.architecture or 'unknown'!r} model, not an mmproj (architecture "
            "'clip'); pass the projector file (usually named mmproj-*.gguf) with --mmproj"
        )
    has_vision = bool(header.get_bool("clip.has_vision_encoder"))
    has_audio = bool(header.get_bool("clip.has_audio_encoder"))
    if not has_vision and not has_audio:
        raise ModelFileError(f"{path} carries neither a vision nor an audio encoder; download it again")
    for prefix, present in (("vision", has_vision), ("audio", has_audio)):
        if not present:
            continue
        dims = _projector_output_dims(header, prefix)
        if dims and dims != {text.n_embd}:
            found = ", ".join(str(d) for d in sorted(dims))
            raise ModelFileError(
                f"the {prefix} projector in {path} outputs embeddings of size {found}, but the text "
                f"model {text.path.name} has embedding size {text.n_embd}: they belong to different "
                "models — use the mmproj published with this model"
            )
    return MmprojInfo(
        path=Path(path),
        has_vision=has_vision,
        has_audio=has_audio,
        vision_projector=header.get_str("clip.vision.projector_type") or header.get_str("clip.projector_type"),
        audio_projector=header.get_str("clip.audio.projector_type"),
        image_size=header.get_int("clip.vision.image_size"),
        header=header,
    )


def validate_model_files(
    model: Path, mmproj: Path | None, architectures: tuple[str, ...] = DEFAULT_ARCHITECTURES
) -> tuple[TextModelInfo, MmprojInfo | None]:
    """Check both files; the mmproj is optional (text-only use)."""
    text = validate_text_model(model, architectures)
    return text, (validate_mmproj(mmproj, text) if mmproj is not None else None)


def verify_files(model: Path, mmproj: Path | None, architectures: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """Check GGUF files given by path (``omnidesk models verify PATH``): ``(findings, problems)``.

    ``model`` may be a text model (checked with its ``mmproj`` against ``architectures``) or an mmproj alone
    (its header and encoders; nothing to match it against). Findings say what the files are.
    """
    findings: list[str] = []
    try:
        header = read_gguf(model)
        if header.architecture == "clip":
            info = validate_mmproj_alone(model)
            findings.append(_describe_mmproj(info))
            return findings, []
        text, mm = validate_model_files(model, mmproj, architectures)
    except ModelFileError as exc:
        return findings, [str(exc)]
    findings.append(f"{text.path.name}: {text.architecture} model {text.name!r}, {text.n_layer} layers")
    if mm is not None:
        findings.append(_describe_mmproj(mm))
    return findings, []


def validate_mmproj_alone(path: Path) -> MmprojInfo:
    """An mmproj's own checks, without a text model to match its projector against."""
    header = read_gguf(path)
    has_vision = bool(header.get_bool("clip.has_vision_encoder"))
    has_audio = bool(header.get_bool("clip.has_audio_encoder"))
    if not has_vision and not has_audio:
        raise ModelFileError(f"{path} carries neither a vision nor an audio encoder; download it again")
    return MmprojInfo(
        path=Path(path),
        has_vision=has_vision,
        has_audio=has_audio,
        vision_projector=header.get_str("clip.vision.projector_type") or header.get_str("clip.projector_type"),
        audio_projector=header.get_str("clip.audio.projector_type"),
        image_size=header.get_int("clip.vision.image_size"),
        header=header,
    )


def _describe_mmproj(info: MmprojInfo) -> str:
    senses = [f"vision ({info.vision_projector})" if info.has_vision else "", "audio" if info.has_audio else ""]
    return f"{info.path.name}: mmproj with " + " and ".join(s for s in senses if s)
