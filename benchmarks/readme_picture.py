"""The README's pictures of `pgvg animate`: a synthetic person (an unseen test identity, rendered at 256 px) as
the photo, and every other frame of the video that `pgvg animate` makes of it, per action; with ``--drive``,
another synthetic person's video (its poses beside it) driving the photo: the driving frames, then the photo
moved with ``--motion relative`` and ``--motion absolute``.

    python benchmarks/readme_picture.py [--model FILE|DIR] [--out docs/animate-synthetic.png]
    python benchmarks/readme_picture.py --drive [--out docs/drive-synthetic.png]
    python benchmarks/readme_picture.py --before REV [--out docs/animate-before-after.png]

``--before REV``: the same picture made by pgvg at git revision REV (a temporary worktree of this
repository, its own code on the path) and by this checkout, a row of each per action, before then after.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None, help="bundle or pipeline folder (default: the shipped bundle)")
    parser.add_argument("--actions", nargs="+", default=["wave-both", "jump", "arm-circles", "squat"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--drive", action="store_true", help="the motion-transfer picture")
    parser.add_argument("--before", metavar="REV", default=None, help="rows of REV's frames above this checkout's")
    parser.add_argument("--rows-only", type=Path, default=None, help=argparse.SUPPRESS)  # --before's worker
    args = parser.parse_args()
    args.out = args.out or Path("docs/drive-synthetic.png" if args.drive else "docs/animate-before-after.png"
                                if args.before else "docs/animate-synthetic.png")
    if args.drive:
        return drive_picture(args)
    if args.before:
        return before_after(args)

    from pgvg_data.synthetic import SyntheticActions
    from PIL import Image

    from pgvg_core.app.animate import _shipped_model, animate_photo
    from pgvg_core.app.pipeline import Animator
    from pgvg_core.media.video import read_video

    animator = Animator(args.model or _shipped_model())
    clip = SyntheticActions(split="test", clips=4, resolution=256, frames=2).sample(3)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        photo, keypoints = Path(folder) / "person.png", Path(folder) / "person.npz"
        Image.fromarray(clip["frames"][0]).save(photo)
        np.savez(keypoints, keypoints=clip["keypoints"][:1])
        for action in args.actions:
            out = Path(folder) / f"{action}.mp4"
            animate_photo(str(photo), action=action, keypoints_file=str(keypoints), out=str(out), animator=animator,
                          render_size=256)
            video = read_video(out)[::2]  # [T/2, H, W, 3]
            small = [np.asarray(Image.fromarray(f).resize((128, int(128 * f.shape[0] / f.shape[1])))) for f in video]
            rows.append(np.concatenate(small, axis=1))
    if args.rows_only:
        np.save(args.rows_only, np.stack(rows))
        return
    save_rows(rows, args.out)
    print(f"wrote {args.out}: rows {', '.join(args.actions)}")


def before_after(args: argparse.Namespace) -> None:
    """Per action, a row made by pgvg at ``args.before`` and one made by this checkout (same photo, model)."""
    import os
    import subprocess
    import sys

    here = Path(__file__).resolve().parents[1]
    made = {}
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "before"
        subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(tree), args.before], check=True,
                       capture_output=True)
        try:
            for name, root in (("before", tree), ("after", here)):
                rows = Path(folder) / f"{name}.npy"
                # This script, with ``root``'s pgvg first on the path.
                command = [sys.executable, str(Path(__file__).resolve()), "--rows-only", str(rows),
                           "--actions", *args.actions, *(["--model", args.model] if args.model else [])]
                env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), str(root / "plugins")])}
                subprocess.run(command, check=True, cwd=root, env=env)
                made[name] = np.load(rows)
        finally:
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(tree)], capture_output=True)
    save_rows([row for pair in zip(made["before"], made["after"]) for row in pair], args.out)
    print(f"wrote {args.out}: per action ({', '.join(args.actions)}), {args.before} then this checkout")


def save_rows(rows: list[np.ndarray], out: Path) -> None:
    from pgvg_core.media.sheets import save_png

    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    out.parent.mkdir(parents=True, exist_ok=True)
    save_png(out, sheet)


def small_frames(video: np.ndarray, width: int = 128) -> np.ndarray:
    from PIL import Image

    return np.concatenate([np.asarray(Image.fromarray(f).resize((width, int(width * f.shape[0] / f.shape[1]))))
                           for f in video], axis=1)


def drive_picture(args: argparse.Namespace) -> None:
    """Rows: the driving video (a kick), the photo driven relatively, absolutely (every other frame)."""
    from pgvg_data.synthetic import SyntheticActions
    from PIL import Image

    from pgvg_core.app.animate import animate_photo
    from pgvg_core.app.pipeline import Animator
    from pgvg_core.media.video import write_video

    animator = Animator(args.model or "body")
    driving = SyntheticActions(split="test", clips=8, resolution=256, frames=16, actions=["kick"]).sample(1)
    person = SyntheticActions(split="test", clips=8, resolution=256, frames=2).sample(6)
    rows = [small_frames(driving["frames"][::2])]
    with tempfile.TemporaryDirectory() as folder:
        video = write_video(Path(folder) / "kick.mp4", driving["frames"], fps=8)
        np.savez(Path(folder) / "kick.npz", keypoints=driving["keypoints"])
        photo, keypoints = Path(folder) / "person.png", Path(folder) / "person.npz"
        Image.fromarray(person["frames"][0]).save(photo)
        np.savez(keypoints, keypoints=person["keypoints"][:1])
        for motion in ("relative", "absolute"):
            made = animate_photo(str(photo), drive=str(video), drive_pose_source="keypoints-file", motion=motion,
                                 keypoints_file=str(keypoints), out=None, animator=animator, render_size=256,
                                 canvas="photo", cache_dir=folder)
            rows.append(small_frames(made["frames_written"][::2]))
    save_rows(rows, args.out)
    print(f"wrote {args.out}: rows driving video, --motion relative, --motion absolute")


if __name__ == "__main__":
    main()
