"""What text on the screen could make a model do: the keyboard input that needs the person's yes.

A model that reads a web page or a document can be told to open a terminal and run a command. The rules
here catch that shape of attack wherever it is typed, independent of the person's settings:

- :func:`normalise` — what patterns are matched against: NFKC (full-width and compatibility letters become
  plain ones), every format character (zero-width spaces and joiners, bidi controls, soft hyphens, tag
  characters) removed, every run of whitespace one space. ``r\u200bm -rf`` is ``rm -rf`` here.
- :func:`destructive_command` — commands that destroy data or run code from the network, in any flag
  order and spacing (``rm -r -f``, ``rm -fr``, ``rm --recursive --force``, ``curl … | sh``, ``bash <(wget
  …)``, ``dd … of=/dev/…``, ``mkfs``, fork bombs, ``chmod -R 777 /``, ``sudo`` …).
- :func:`has_line_break` — a typed line break is Enter to a shell or a form.
- :func:`system_hotkey` — keys that open a terminal or a run dialog, the launcher (``super`` and every
  ``super+…``), or switch to a text console.
- :func:`enter_like` — keys a terminal takes as Enter or as a paste.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["destructive_command", "enter_like", "has_line_break", "normalise", "system_hotkey"]

_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")

_WHITESPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """``text`` as the rules read it: NFKC, format characters (category Cf) removed, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", text)
    visible = "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
    return _WHITESPACE.sub(" ", visible).strip()


def has_line_break(text: str) -> bool:
    """Whether typing ``text`` presses Enter somewhere (a newline, carriage return, or a Unicode line break)."""
    return any(ch in _LINE_BREAKS for ch in text)


# A word of a command line: not whitespace, not an operator that ends the command.
_ARG = r"[^\s;&|<>()]+"
_SEP = r"(?:^|[\s;&|(`$\\\"'/{])"  # what may come before a command name (``\rm``, ``/bin/rm``, ``"rm"``)
# Where a command starts (for names that are English words too: "halt", "shred", "su").
_START = r"(?:^|[;&|`({]\s*|\$\(\s*|\b(?:sudo|doas|exec|then|do|xargs)\s+)"
_SHELLS = r"(?:ba|da|z|k|mk|c|tc|fi|a)?sh|fish|nu|pwsh|python[0-9.]*|perl|ruby|node|php"
_SUDO = r"(?:sudo\s+(?:-\S+\s+)*)?"
_RM_FLAG = r"(?:-\w*[rRf]\w*|--recursive|--force|--no-preserve-root)\b"
_FETCH = r"\b(?:curl|wget|fetch|aria2c|lynx|http)\b"
_DISKS = r"(?:sd|hd|vd|xvd|nvme|mmcblk|disk|md|dm-|mapper/)"
_FORMAT = r"(?:mkfs(?:\.\w+)?|mke2fs|mkswap|wipefs|fdisk|sfdisk|blkdiscard|format\s+[a-z]:)(?=\s|$)"

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (what, re.compile(pattern, re.IGNORECASE))
    for what, pattern in (
        ("removes files recursively or by force", _SEP + r"rm(?:\s+" + _ARG + r")*?\s+" + _RM_FLAG),
        ("removes a directory tree", _SEP + r"(?:rmdir\s+/s|del\s+/[sqf]|remove-item\b.*-recurse|rd\s+/s)"),
        ("deletes files found by find", _SEP + r"find\s.*-(?:delete|exec\s+rm)\b"),
        ("removes files listed by another command", r"\|\s*(?:sudo\s+)?xargs\s+(?:" + _ARG + r"\s+)*rm\b"),
        ("runs code fetched from the network",
         _FETCH + r"[^|;&]*\|\s*" + _SUDO + r"(?:env\s+)?(?:/\S*/)?(?:" + _SHELLS + r")\b"),
        ("runs code fetched from the network",
         r"\b(?:" + _SHELLS + r")\b\s*(?:-\w+\s*)*[<\"']*\s*[<$]\(\s*(?:curl|wget|fetch)\b"),
        ("pipes text into a shell", r"\|\s*" + _SUDO + r"(?:/\S*/)?(?:ba|da|z|k|mk|c|tc|fi|a)?sh\b(?!\S)"),
        ("writes to a disk device", r"\bdd\b.*\bof\s*=\s*/dev/"),
        ("writes to a disk device", r">\s*/dev/" + _DISKS),
        ("formats or wipes a disk", _SEP + _FORMAT),
        ("formats or wipes a disk", _START + r"(?:shred|parted)(?=\s|$)"),
        ("is a fork bomb", r"(\S+)\s*\(\s*\)\s*\{[^}]*\1\s*\|\s*\1[^}]*&[^}]*\}"),
        ("opens every permission or changes owners recursively",
         _SEP + r"(?:chmod|chown|chgrp)\s+(?:\S+\s+)*?(?:-\w*R\w*|--recursive)\b"),
        ("opens every permission", _SEP + r"chmod\s+(?:-\S+\s+)*[0-7]?777\s+/"),
        ("runs with root rights", _SEP + r"(?:sudo|doas|pkexec)(?=\s|$)"),
        ("runs with root rights", _START + r"su(?=\s|$)"),
        ("stops or restarts the machine", _SEP + r"(?:poweroff|systemctl\s+(?:poweroff|reboot|halt))(?=\s|$)"),
        ("stops or restarts the machine", _START + r"(?:shutdown|reboot|halt|init\s+[06])(?=\s|$)"),
        ("kills every process", _SEP + r"kill\s+-(?:9|KILL|SIGKILL)\s+-1(?=\s|$)"),
        ("removes the scheduled jobs", _SEP + r"crontab\s+-r\b"),
        ("moves files into the void", _SEP + r"mv\s+.*\s/dev/null(?=\s|$)"),
        ("rewrites a remote history", _SEP + r"git\s+push\s+(?:\S+\s+)*(?:-f|--force)\b"),
    )
)  # fmt: skip


def destructive_command(text: str) -> str | None:
    """What a destructive command in ``text`` does (matched on :func:`normalise` d text), or ``None``."""
    plain = normalise(text)
    for what, pattern in _RULES:
        if pattern.search(plain):
            return what
    return None


_SYSTEM_COMBOS = frozenset(
    {
        ("ctrl", "alt", "t"),  # open a terminal (GNOME, Ubuntu, many others)
        ("alt", "f2"),  # run a command (GNOME, KDE, Xfce)
        ("alt", "f1"),  # the application menu
        ("ctrl", "esc"),  # the application menu
        ("alt", "space"),  # KRunner, the window menu
        ("ctrl", "alt", "delete"),
        ("ctrl", "alt", "backspace"),  # kills the X server where enabled
        ("menu",),
    }
)


def system_hotkey(keys: Sequence[str]) -> str | None:
    """Why a (normalised) key combination reaches the desktop itself, or ``None``."""
    combo = tuple(keys)
    if "super" in combo:
        return "the super key opens the launcher and desktop shortcuts"
    if combo in _SYSTEM_COMBOS:
        return f"{'+'.join(combo)} opens a terminal, a run dialog or a system menu"
    if combo[:2] == ("ctrl", "alt") and len(combo) == 3 and re.fullmatch(r"f\d{1,2}", combo[2]):
        return f"{'+'.join(combo)} switches to a text console"
    return None


_ENTER_LIKE = frozenset(
    {
        ("enter",),
        ("ctrl", "j"),  # line feed
        ("ctrl", "m"),  # carriage return
        ("ctrl", "o"),  # accept-line-and-down-history
        ("ctrl", "shift", "v"),  # paste
        ("shift", "insert"),  # paste
        ("ctrl", "v"),  # paste (quoted insert in a shell, paste in many terminals)
    }
)


def enter_like(keys: Sequence[str]) -> bool:
    """Whether a terminal takes the combination as Enter or as pasting text (which may hold a line break)."""
    combo = tuple(keys)
    return combo in _ENTER_LIKE or "enter" in combo
