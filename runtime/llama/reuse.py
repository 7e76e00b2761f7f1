"""Prompt reuse between requests: evaluate only what the new prompt does not share with what came before.

The agent's trained layouts are not append-only (a sliding window of screenshots drops the oldest turn, the
history moves into the oldest turn that still has an image), so reuse is found on the tokens themselves: the
longest common prefix of the new prompt's items (token ids and media chunks, by content) with what the
context holds.

* Attention-only models (Qwen) cut their KV cache back to that prefix (``llama_memory_seq_rm``).
* Hybrid / recurrent models (Nemotron's Mamba layers) cannot cut their state back, so the state is saved
  (``llama_state_seq_get_data``) at a few points and restored: the end of the system prompt (the one prefix
  every step shares), the point where the new prompt left the previous one (the next step will likely share
  it too), and the end of the prompt with its last token's logits (an append-only next prompt extends it;
  the same prompt again samples from the saved logits and evaluates nothing). Each point splits the
  evaluation (a recurrent state exists only where a batch ends), so the end of the prompt is saved after
  the last batch instead of splitting the last token off (a lone token costs about one decode step).

Media embeddings are cached by content separately (``media.EmbeddingCache``), so a screenshot kept from one
step to the next is encoded once even when its position changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from omnidesk.runtime.llama.engine import Engine, EvalStats, Item, count_positions, count_tokens, item_key

__all__ = ["PrefixCache"]

log = logging.getLogger(__name__)

Key = int | tuple[str, int]


@dataclass(slots=True)
class _Snapshot:
    keys: tuple[Key, ...]
    state: Any
    n_past: int
    n_tokens: int
    pinned: bool = False  # a hinted point (the system prompt): kept while newer points come and go
    logits: npt.NDArray[np.float32] | None = None  # the last position's, where a whole prompt ends


def _common(a: Sequence[Key], b: Sequence[Key]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """What the context holds, the saved states, and the prefill that reuses them."""

    def __init__(self, engine: Engine, *, snapshots: bool, max_snapshots: int = 4) -> None:
        self._engine = engine
        self._use_snapshots = snapshots
        self._max = max_snapshots
        self._snapshots: list[_Snapshot] = []
        self._live: list[Key] = []  # items evaluated in the context, in order (prompt, then generated tokens)
        self._live_pos: list[int] = [0]  # positions after each live item (index 0: before any)
        self._live_tokens: list[int] = [0]
        self._previous: tuple[Key, ...] = ()

    def prefill(self, items: Sequence[Item], stats: EvalStats, *, hints: Sequence[int] = ()) -> tuple[int, int]:
        """Evaluate ``items`` (logits left at the last one); returns ``(n_past, reused_tokens)``.

        ``hints`` are item counts worth a snapshot (e.g. the end of the system prompt). Raises the engine's
        ``Aborted``/``ModelError``; the context is then forgotten (saved states are kept).
        """
        keys = tuple(item_key(i) for i in items)
        start, n_past = self._restore(keys)
        reused = count_tokens(items[:start])
        try:
            for point in self._points(keys, start, hints):
                n_past = self._engine.evaluate(items[start:point], n_past, logits_last=False, stats=stats)
                self._save(keys[:point], n_past, count_tokens(items[:point]), pinned=point in hints)
                start = point
            if start < len(keys):  # else a saved whole prompt was restored, with its logits
                n_past = self._engine.evaluate(items[start:], n_past, logits_last=True, stats=stats)
                if self._use_snapshots:
                    logits = self._engine.last_logits()
                    self._save(keys, n_past, count_tokens(items), pinned=len(keys) in hints, logits=logits)
        except BaseException:
            self.forget_context()
            raise
        self._previous = keys
        self._live = list(keys)
        self._live_pos = [0]
        self._live_tokens = [0]
        for item in items:
            self._live_pos.append(self._live_pos[-1] + count_positions([item]))
            self._live_tokens.append(self._live_tokens[-1] + count_tokens([item]))
        return n_past, reused

    def generated(self, token: int) -> None:
        """A token sampled and evaluated after the prompt (it is in the context now)."""
        self._live.append(token)
        self._live_pos.append(self._live_pos[-1] + 1)
        self._live_tokens.append(self._live_tokens[-1] + 1)

    def forget_context(self) -> None:
        """The context's content is unknown (a stop mid-evaluation): start the next prompt from a snapshot."""
        self._live = []
        self._live_pos = [0]
        self._live_tokens = [0]

    def reset(self) -> None:
        self.forget_context()
        self._snapshots.clear()
        self._previous = ()

    # --- internals -----------------------------------------------------------------------------------

    def _restore(self, keys: tuple[Key, ...]) -> tuple[int, int]:
        """Set the context to the longest reusable prefix; returns ``(items reused, n_past)``."""
        limit = len(keys) - 1  # the last item is evaluated again, for its logits, unless a snapshot holds them
        shared = min(_common(self._live, keys), limit)
        if shared > 0 and (shared == len(self._live) or self._engine.cut(self._live_pos[shared])):
            return shared, self._live_pos[shared]
        best: _Snapshot | None = None
        for snap in self._snapshots:
            n = len(snap.keys)
            usable = 0 < n <= limit or (n == len(keys) and snap.logits is not None)
            if usable and keys[:n] == snap.keys and (best is None or n > len(best.keys)):
                best = snap
        if best is None:
            self._engine.clear()
            return 0, 0
        self._engine.restore_state(best.state, best.logits if len(best.keys) == len(keys) else None)
        self._snapshots.remove(best)
        self._snapshots.append(best)  # most recently used last
        return len(best.keys), best.n_past

    def _points(self, keys: tuple[Key, ...], start: int, hints: Sequence[int]) -> list[int]:
        """Where to save state on the way (recurrent models only), in order."""
        if not self._use_snapshots:
            return []
        wanted = set(hints)
        diverged = _common(self._previous, keys)
        if 0 < diverged < len(keys):
            wanted.add(diverged)
        held = {len(s.keys) for s in self._snapshots if keys[: len(s.keys)] == s.keys}
        return sorted(p for p in wanted if start < p < len(keys) and p not in held)

    def _save(
        self,
        keys: tuple[Key, ...],
        n_past: int,
        n_tokens: int,
        *,
        pinned: bool = False,
        logits: npt.NDArray[np.float32] | None = None,
    ) -> None:
        if pinned:  # one pinned prefix at a time: a new system prompt replaces the old one
            self._snapshots = [s for s in self._snapshots if not s.pinned]
        self._snapshots = [s for s in self._snapshots if s.keys != keys]
        self._snapshots.append(_Snapshot(keys, self._engine.save_state(), n_past, n_tokens, pinned, logits))
        unpinned = [s for s in self._snapshots if not s.pinned]
        while len(unpinned) > self._max:
            self._snapshots.remove(unpinned.pop(0))
        log.debug("saved the model state after %d tokens (%d snapshots)", n_tokens, len(self._snapshots))
