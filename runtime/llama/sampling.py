"""Sampler settings and the libllama sampler chain built from them."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from omnidesk.agent.errors import ModelError
from omnidesk.agent.ports import ModelRequest

__all__ = ["SamplerParams", "SamplingDefaults", "build_sampler", "resolve_sampler"]


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
