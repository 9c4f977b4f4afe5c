"""The paper's failure cases, measured: both stages on the ``unseen-pose`` and ``occlusion`` splits beside ``test``.

    python benchmarks/failure_cases.py --model MODEL --classifier RUN [--clips 32] [--out runs/failure-cases]

MODEL is a bundle (``pgvg_core/models/synthetic-actions-64.pt``) or a pipeline folder (``pgvg demo --out``);
RUN an action-classifier run (default MODEL/action-classifier). For each split of the model's dataset:
stage 2's frames from the true poses (SSIM on [0, 1] and LPIPS-ST against the real frames, and the same on a
square around the head: the paper reports that occluded faces come out blurry) and stage 1's sequences from
the clips' first poses (how often the action classifier reads the intended action). ``unseen-pose`` holds
test identities moving with amplitudes beyond the training range (the paper: poses far from the training
data collapse); ``occlusion`` test identities whose clips begin with a hand across the face.
Writes OUT/failure-cases.json and OUT/failure-cases.png (two clips per split, generated above real).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="bundle file or pipeline folder")
    parser.add_argument("--classifier", default=None, help="action-classifier run (default MODEL/action-classifier)")
    parser.add_argument("--clips", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/failure-cases"))
    args = parser.parse_args()

    from pgvg_core.app.pipeline import Animator, failure_cases
    from pgvg_core.media.sheets import save_png
    from pgvg_core.training.run import load_run

    args.out.mkdir(parents=True, exist_ok=True)
    animator = Animator(args.model)
    classifier = load_run(args.classifier or Path(args.model) / "action-classifier").nets["classifier"]
    results, sheet = failure_cases(animator, classifier, clips=args.clips, seed=args.seed)
    save_png(args.out / "failure-cases.png", sheet, scale=2)
    (args.out / "failure-cases.json").write_text(json.dumps({"model": animator.source, "clips": args.clips,
                                                             "results": results}, indent=1))
    columns = ("ssim", "lpips-st", "head_ssim", "head_lpips-st", "action_accuracy")
    print(f"{'split':<12} " + " ".join(f"{c:>15}" for c in columns))
    for split, values in results.items():
        print(f"{split:<12} " + " ".join(f"{values[c]:>15.3f}" for c in columns))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
