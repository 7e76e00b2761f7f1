"""Settings sections of the agent (pure pydantic models; the app's ``Settings`` holds them)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omnidesk.agent.errors import ConfigError

__all__ = ["AgentConfig", "ReplayConfig", "SafetyConfig"]


class SafetyConfig(BaseModel):
    """What the safety policy enforces before every action."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    max_steps: int = Field(default=30, ge=1, le=1000, description="Stop a run after this many steps.")
    max_seconds: float = Field(default=600.0, gt=0, description="Stop a run after this much wall time.")
    dry_run: bool = Field(default=False, description="Plan and show actions, never carry them out.")
    pause_on_user_input: bool = Field(default=True, description="Pause when the person moves or types.")
    confirm_patterns: list[str] = Field(
        default_factory=lambda: [r"rm\s+-rf", r"\bsend\b", r"\bpay\b", r"\bdelete\b", r"\bpurchase\b"],
        description="Regular expressions; typed text matching one needs confirmation.",
    )
    confirm_hotkeys: list[str] = Field(
        default_factory=lambda: ["ctrl+w", "alt+f4", "delete", "ctrl+q", "shift+delete"],
        description="Key combinations that need confirmation.",
    )
    deny_windows: list[str] = Field(
        default_factory=lambda: ["KeePass", "KeePassXC", "Bitwarden", "1Password", "pass", "Seahorse"],
        description="Window titles/classes (regex) never acted on and blacked out in every frame.",
    )
    terminal_windows: list[str] = Field(
        default_factory=list,
        description="WM_CLASS patterns of more terminal emulators (keys and text there need confirmation).",
    )
    loop_repeats: int = Field(default=3, ge=2, description="Near-identical actions on a still screen.")
    model_error_retries: int = Field(default=3, ge=0, description="Unparsable outputs before giving up.")

    def with_overrides(self, *, dry_run: bool | None = None, max_steps: int | None = None) -> SafetyConfig:
        """These settings with the person's own overrides (command-line flags), validated like the file.

        Raises:
            ConfigError: an override is out of range (the message names it).
        """
        update = {k: v for k, v in {"dry_run": dry_run, "max_steps": max_steps}.items() if v is not None}
        try:
            return SafetyConfig.model_validate({**self.model_dump(), **update})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"invalid safety override ({problems})") from exc

    def tightened(self, *, dry_run: bool | None = None, max_steps: int | None = None) -> SafetyConfig:
        """These settings with a caller's overrides that may only tighten them (MCP: the caller is not the
        person): ``dry_run`` may only be switched on, ``max_steps`` only lowered.

        Raises:
            ConfigError: an override would loosen the person's limits, or is out of range.
        """
        if dry_run is False and self.dry_run:
            raise ConfigError("dry_run=false would override the person's dry run; only the person can switch it off")
        if max_steps is not None and max_steps > self.max_steps:
            raise ConfigError(
                f"max_steps={max_steps} is above the person's limit of {self.max_steps}; a caller may only lower it"
            )
        return self.with_overrides(dry_run=dry_run, max_steps=max_steps)


class AgentConfig(BaseModel):
    """How the step loop talks to the model; empty (None) fields take the model format's own choice."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    enable_thinking: bool | None = Field(
        default=None,
        description="Let the model reason before acting; empty = the model's format decides (on where the "
        "authors serve it so and decoding is fast, off for a local model on the CPU only).",
    )
    screenshots_in_prompt: int | None = Field(
        default=None, ge=1, le=5, description="Screenshots per request, the current one included; empty = profile's."
    )
    max_output_tokens: int | None = Field(default=None, ge=16, le=65536, description="Empty = the format's.")
    reasoning_budget: int | None = Field(
        default=None, ge=0, description="Thinking tokens before the answer must follow; empty = the format's."
    )
    password_secret: str = Field(
        default="computer_password",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="Name of the stored secret whose {{secret:NAME}} placeholder fills a prompt's password slot.",
    )
    settle_seconds: float = Field(default=0.3, ge=0, description="Screen still this long = settled.")
    settle_timeout: float = Field(default=3.0, ge=0, description="Give up waiting for a still screen.")
    use_json_actions: bool = Field(
        default=False, description="Constrain output to Omnidesk's JSON action schema instead of the model's format."
    )


class ReplayConfig(BaseModel):
    """What a replay automation does when it cannot do a step as recorded."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    model_fallback: bool = Field(
        default=True,
        description="When a taught automation's target is not on the screen, let the configured model carry on "
        "from the saved description (only with a description and a model; off = stop there).",
    )
