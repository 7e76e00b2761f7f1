"""Which model and quantisation to download on this machine: every offer of the bundled profiles, judged
by doctor's fit check and step estimate from its GGUF headers (read from the Hub before downloading).

The first-run panel lists these; nothing here touches Qt, so it runs on a worker and in plain tests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from omnidesk.agent.errors import ModelError, OmnideskError
from omnidesk.app.doctor_model import FitAssessment, Machine, assess_fit
from omnidesk.app.model_files import format_bytes, format_duration
from omnidesk.app.settings import Settings
from omnidesk.runtime.model_catalog import ModelOffer
from omnidesk.runtime.model_store import ModelStore
from omnidesk.runtime.profiles import ModelProfile, list_profiles, load_profile

__all__ = ["ModelChoice", "list_choices"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """One offer and what this machine would make of it.

    ``fit`` is None when its headers could not be read (``problem`` says why); ``downloaded`` counts the
    bytes an earlier, unfinished download left (what a resume skips).
    """

    offer: ModelOffer
    fit: FitAssessment | None
    problem: str = ""
    downloaded: int = 0
    recommended: bool = False

    @property
    def title(self) -> str:
        return f"{self.offer.profile.display_name} · {self.offer.quant}"

    @property
    def fits(self) -> bool:
        return self.fit is not None and self.fit.fits

    @property
    def size_text(self) -> str:
        text = format_bytes(self.offer.total_bytes)
        if self.downloaded:
            text += f" ({format_bytes(self.downloaded)} already here)"
        return text

    @property
    def fit_text(self) -> str:
        if self.fit is None:
            return "unknown"
        plan = self.fit.plan
        if not self.fit.fits:
            return "does not fit"
        if not plan.n_gpu_layers:
            return "fits in RAM (CPU)"
        return "fits on the GPU" if plan.ram_bytes == 0 else "fits (GPU + RAM)"

    @property
    def speed_text(self) -> str:
        return "—" if self.fit is None else f"{format_duration(self.fit.estimate.seconds)} per step"

    @property
    def explanation(self) -> str:
        if self.fit is None:
            return self.problem
        return " ".join(part for part in (self.fit.detail, self.fit.fix, self.fit.hint) if part)


def list_choices(settings: Settings, store: ModelStore, machine: Machine) -> list[ModelChoice]:
    """Every downloadable offer of the bundled profiles with its fit; the best one marked recommended.

    Raises:
        ModelError: no offer could be listed at all (the Hub or mirror is unreachable); says what to check.
    """
    choices: list[ModelChoice] = []
    problems: list[OmnideskError] = []
    for profile in _profiles():
        try:
            offers = store.catalog.offers(profile)
        except OmnideskError as exc:
            problems.append(exc)
            continue
        choices += [_judge(settings, store, machine, offer) for offer in offers]
    if not choices and problems:
        raise problems[0]
    if not choices:
        raise ModelError("no bundled profile has a download source; set model.model to a GGUF you have")
    best = _recommend(settings, choices)
    return [
        ModelChoice(c.offer, c.fit, c.problem, c.downloaded, recommended=c is best) if c is best else c for c in choices
    ]


def _profiles() -> list[ModelProfile]:
    profiles = [load_profile(name) for name in list_profiles()]
    return [p for p in profiles if p.download is not None]


def _judge(settings: Settings, store: ModelStore, machine: Machine, offer: ModelOffer) -> ModelChoice:
    downloaded = store.partial_bytes(offer)
    try:
        text = store.catalog.header(offer.model)
        mmproj = store.catalog.header(offer.mmproj) if offer.mmproj is not None else None
    except OmnideskError as exc:
        log.info("cannot judge %s %s: %s", offer.profile.name, offer.quant, exc)
        return ModelChoice(offer, None, f"cannot read its header before downloading: {exc}", downloaded)
    section = settings.model.model_copy(update={"profile": offer.profile.name})
    fit = assess_fit(settings.model_copy(update={"model": section}), text, mmproj, machine)
    return ModelChoice(offer, fit, "", downloaded)


def _recommend(settings: Settings, choices: list[ModelChoice]) -> ModelChoice | None:
    """The configured profile and quantisation when it fits, else the fitting choice with the fastest step."""
    fitting = [c for c in choices if c.fits]
    for choice in fitting:
        if choice.offer.profile.name == settings.model.profile and choice.offer.quant == settings.model.quant:
            return choice
    return min(fitting, key=lambda c: c.fit.estimate.seconds if c.fit else 0.0, default=None)
