"""Real media for tests and benchmarks, taken from packages on PyPI at test time (never committed).

* Sports2D 0.8.34 (BSD-3-Clause) ships ``Sports2D/Demo/demo.mp4``: outdoors, a man jumps off a box, a woman
  walks by (1768x994, 30 fps, 230 frames).
* ultralytics (AGPL-3.0) ships ``ultralytics/assets/bus.jpg``: people standing by a bus (810x1080).

``real_people(folder)`` crops single people out of them (the crops are fixed boxes, chosen by eye) and
returns ``{name: path}``; it raises ``MediaUnavailable`` with the reason when a download is not possible.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

# name -> (source, frame index for videos, crop box (left, top, right, bottom) in source pixels)
PEOPLE = {
    "sports2d-woman-walking": ("sports2d", 120, (560, 300, 1140, 994)),
    "sports2d-woman-striding": ("sports2d", 170, (60, 300, 640, 994)),
    "sports2d-man-on-box": ("sports2d", 0, (420, 0, 900, 560)),
    "bus-man-beige-coat": ("bus", None, (0, 300, 300, 960)),
    "bus-man-black-coat": ("bus", None, (190, 330, 420, 950)),
}
WHEELS = {"sports2d": ("sports2d==0.8.34", "Sports2D/Demo/demo.mp4"),
          "bus": ("ultralytics==8.4.190", "ultralytics/assets/bus.jpg")}


class MediaUnavailable(Exception):
    """The package carrying the media could not be downloaded (offline?); the message says why."""


def fetch(source: str, folder: Path) -> Path:
    """The media file of ``source`` (downloaded once into ``folder`` with ``pip download --no-deps``)."""
    requirement, member = WHEELS[source]
    target = folder / member
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", requirement, "-d",
                           str(folder)], capture_output=True, text=True, timeout=600)
    wheels = sorted(folder.glob(f"{requirement.split('==')[0]}-*.whl"))
    if done.returncode or not wheels:
        raise MediaUnavailable(f"pip download {requirement} failed: {done.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[-1]) as archive:
        archive.extract(member, folder)
    return target


def real_people(folder: Path) -> dict[str, Path]:
    """PNG crops of single real people, written into ``folder``."""
    from PIL import Image

    from pgvg_core.video import read_video

    out, videos = {}, {}
    for name, (source, frame, box) in PEOPLE.items():
        path = folder / f"{name}.png"
        if not path.exists():
            media = fetch(source, folder / "downloads")
            if frame is None:
                image = np.asarray(Image.open(media).convert("RGB"))
            else:
                videos.setdefault(source, read_video(media))
                image = videos[source][frame]
            left, top, right, bottom = box
            Image.fromarray(image[top:bottom, left:right]).save(path)
        out[name] = path
    return out
