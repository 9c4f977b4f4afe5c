"""The README's picture of `pgvg animate`: a synthetic person (an unseen test identity, rendered at 256 px) as
the photo, and every other frame of the video that `pgvg animate` makes of it, per action.

    python benchmarks/readme_picture.py [--model FILE|DIR] [--out docs/animate-synthetic.png]
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
    parser.add_argument("--out", type=Path, default=Path("docs/animate-synthetic.png"))
    args = parser.parse_args()

    from PIL import Image

    from pgvg_core.animate import _shipped_model, animate_photo
    from pgvg_core.pipeline import Animator
    from pgvg_core.sheets import save_png
    from pgvg_core.video import read_video
    from pgvg_data.synthetic import SyntheticActions

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
    width = max(r.shape[1] for r in rows)
    sheet = np.concatenate([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_png(args.out, sheet)
    print(f"wrote {args.out}: rows {', '.join(args.actions)}")


if __name__ == "__main__":
    main()
