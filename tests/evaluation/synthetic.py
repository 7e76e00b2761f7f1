"""A small grounding set drawn with numpy (coloured boxes on grey monitors), for the harness's unit tests;
the real set comes from applications on the rig (``make_grounding_set.py``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from omnidesk.agent.evaluation.grounding import GroundingCase, GroundingSet, Shot


def write_synthetic_set(folder: Path, *, two_monitors: bool = True) -> GroundingSet:
    """Two shots (monitor 1 at the origin, monitor 2 to its right when ``two_monitors``), three targets each."""
    folder.mkdir(parents=True, exist_ok=True)
    layouts = [(1, (0, 0, 640, 360))] + ([(2, (640, 0, 800, 450))] if two_monitors else [])
    shots, cases = [], []
    for index, monitor in layouts:
        mx, my, mw, mh = monitor
        pixels = np.full((mh, mw, 3), 90, np.uint8)
        shot_id = f"m{index}"
        for k, (x, y, w, h) in enumerate(((20, 30, 60, 24), (300, 200, 120, 40), (mw - 50, mh - 40, 30, 30))):
            pixels[y : y + h, x : x + w] = (40 * k + 60, 200 - 50 * k, 30 + 70 * k)
            cases.append(
                GroundingCase(
                    id=f"{shot_id}-{k}",
                    shot=shot_id,
                    app="synthetic",
                    toolkit="numpy",
                    role="push_button",
                    name=f"{shot_id.upper()}-{k}",
                    instruction=f'Click the "{shot_id.upper()}-{k}" button.',
                    box=(mx + x, my + y, w, h),
                )
            )
        cv2.imwrite(str(folder / f"{shot_id}.png"), pixels)
        shots.append(
            Shot(
                id=shot_id,
                file=f"{shot_id}.png",
                index=index,
                monitor=monitor,
                resolution=f"{mw}x{mh}",
                scale="1.0",
                monitors=len(layouts),
            )
        )
    grounding_set = GroundingSet(
        name="synthetic", seed=0, shots=tuple(shots), cases=tuple(cases), dropped={"missed click": 1}
    )
    (folder / "set.json").write_text(grounding_set.to_json(), encoding="utf-8")
    return grounding_set
