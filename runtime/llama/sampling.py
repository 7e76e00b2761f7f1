"""Sampler settings and the libllama sampler chain built from them."""

from __future__ import annotations

import ctypes
import random
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from omnidesk.agent.errors import ModelError
from omnidesk.agent.ports import ModelRequest

__all__ = ["SamplerParams", "SamplingDefaults", "build_sampler", "resolve_sampler", "sample_logits"]


@dataclass(frozen=True, slots=True)
class SamplerParams:
    """``temperature <= 0`` or ``top_k == 1`` is greedy; ``seed`` None draws a fresh one."""

    temperature: float = 0.6
    top_p: float = 0.95
    top_k: int = 0
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class SamplingDefaults:
    """A profile's samplers: one for reasoning mode, one for direct answers (the model card's)."""

    reasoning: SamplerParams = SamplerParams(temperature=0.6, top_p=0.95, top_k=0)
    instruct: SamplerParams = SamplerParams(temperature=0.2, top_p=1.0, top_k=1)


def resolve_sampler(request: ModelRequest, defaults: SamplingDefaults, *, thinking: bool) -> SamplerParams:
    """The request's values over the profile's mode defaults."""
    base = defaults.reasoning if thinking else defaults.instruct
    params = replace(
        base,
        temperature=base.temperature if request.temperature is None else request.temperature,
        top_p=base.top_p if request.top_p is None else request.top_p,
        top_k=base.top_k if request.top_k is None else request.top_k,
        seed=base.seed if request.seed is None else request.seed,
    )
    if params.seed is None:
        params = replace(params, seed=random.SystemRandom().randrange(2**31))
    return params


def build_sampler(
    vocab: Any,
    params: SamplerParams,
    grammar: str | None,
    *,
    logit_bias: dict[int, float] | None = None,
) -> Any:
    """A libllama sampler chain: bias → grammar → top-k → top-p → temperature → draw (or greedy)."""
    import llama_cpp

    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    if logit_bias:
        n_vocab = llama_cpp.llama_vocab_n_tokens(vocab)
        biases = (llama_cpp.llama_logit_bias * len(logit_bias))(
            *(llama_cpp.llama_logit_bias(token, bias) for token, bias in logit_bias.items())
        )
        bias_sampler = llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(logit_bias), biases)
        llama_cpp.llama_sampler_chain_add(chain, bias_sampler)
    if grammar is not None:
        grammar_sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
        if not grammar_sampler:
            llama_cpp.llama_sampler_free(chain)
            raise ModelError("llama.cpp rejected the output grammar (GBNF parse error); check the schema")
        llama_cpp.llama_sampler_chain_add(chain, grammar_sampler)
    greedy = params.temperature <= 0 or params.top_k == 1
    if greedy:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    if params.top_k > 0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
    if params.top_p < 1.0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
    seed = params.seed if params.seed is not None else 0
    llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_dist(seed))
    return chain


_TOKEN_DATA = np.dtype([("id", np.int32), ("logit", np.float32), ("p", np.float32)])


def sample_logits(sampler: Any, logits: npt.NDArray[np.float32]) -> int:
    """``llama_sampler_sample`` on logits held outside the context: the same candidates (every token, its
    logit, p 0, unsorted), the chain applied, the selected token accepted."""
    import llama_cpp

    data = np.zeros(len(logits), dtype=_TOKEN_DATA)
    data["id"] = np.arange(len(logits), dtype=np.int32)
    data["logit"] = logits
    candidates = llama_cpp.llama_token_data_array(
        data=data.ctypes.data_as(llama_cpp.llama_token_data_p), size=len(logits), selected=-1, sorted=False
    )
    llama_cpp.llama_sampler_apply(sampler, ctypes.byref(candidates))
    if not 0 <= candidates.selected < candidates.size:
        raise ModelError("the sampler selected no token")
    token = int(candidates.data[candidates.selected].id)
    llama_cpp.llama_sampler_accept(sampler, token)
    return token
