"""Which part of a recording goes into which request, so each fits the model's context.

A recording becomes *moments* (frames EVS picked, each with its token cost) and, where it has sound, audio
that costs a fixed number of tokens per second whatever happens on screen. One request holds a run of
consecutive moments and the sound of the time they cover; when the next moment would not fit, a new part
starts at it. A part always starts with a frame (the screen as it was when the part begins) and covers the
time up to the next part's first frame, so the parts tile the asked range without gaps or overlap.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from omnidesk.agent.errors import ConfigError

__all__ = ["Chunk", "Pick", "plan_chunks"]


@dataclass(frozen=True, slots=True)
class Pick:
    """One moment as the plan sees it: its time (seconds) and what its pictures cost in tokens."""

    time: float
    tokens: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """One request's share: ``[start, end)`` seconds and the indices of its moments."""

    start: float
    end: float
    picks: tuple[int, ...]


def plan_chunks(
    picks: Sequence[Pick],
    start: float,
    end: float,
    *,
    budget: int,
    audio_tokens: Callable[[float], int] | None = None,
) -> list[Chunk]:
    """Parts of ``[start, end)`` whose pictures plus sound (``audio_tokens(seconds)``, None: no sound) fit
    ``budget`` tokens each.

    Raises:
        ConfigError: there is nothing to show, or one moment with the sound up to the next does not fit
            (the budget is too small for this recording; the message says how much one part needs).
    """
    if not picks:
        raise ConfigError("EVS found no frame to show in that range; give a longer range")
    if any(b.time < a.time for a, b in itertools.pairwise(picks)):
        raise ValueError("picks must be in time order")

    def sound(seconds: float) -> int:
        return audio_tokens(max(seconds, 0.0)) if audio_tokens is not None else 0

    chunks: list[Chunk] = []
    members: list[int] = []
    first_time = start
    pictures = 0
    for index, pick in enumerate(picks):
        upto = picks[index + 1].time if index + 1 < len(picks) else end
        if members and pictures + pick.tokens + sound(upto - first_time) > budget:
            chunks.append(Chunk(first_time, pick.time, tuple(members)))
            members, first_time, pictures = [], pick.time, 0
        alone = pick.tokens + sound(upto - first_time)
        if not members and alone > budget:
            raise ConfigError(
                f"one part of the recording needs {alone} tokens (a frame at {pick.time:.1f} s and the sound up to "
                f"the next change) but the budget is {budget}; give a shorter range (--from/--to) or a larger "
                "--budget (the model's context allows more if it was started with a longer one)"
            )
        members.append(index)
        pictures += pick.tokens
    chunks.append(Chunk(first_time, end, tuple(members)))
    return chunks
