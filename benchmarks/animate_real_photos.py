"""`pgvg animate` on real photos, judged by an independent eye (MediaPipe), not by pgvg's own models.

    python benchmarks/animate_real_photos.py --model demo [--classifier demo/action-classifier]
                                             [--actions wave-both jump arm-circles] [--out runs/real-photos]

Photos: single people cropped out of Sports2D's demo video and ultralytics' bus.jpg (fetched with
``pip download``; see tests/media.py). For each photo and action it runs ``animate_photo`` and measures, on
the video it wrote:

* ``found``: the share of frames in which MediaPipe finds a person;
* ``pck``: PCK at 0.2 of the body size (bounding-box diagonal of the pose rendered), MediaPipe's keypoints
  against the poses the frames were rendered from (joints MediaPipe misses count as wrong);
* ``travel``: how far MediaPipe's wrists and ankles move over the clip (the largest extent of any of the four,
  over the body height of the photo's pose);
* ``identity``: LPIPS-ST between the photo's person crop (frame 0, the photo's pose) and the same crop of
  frames 1-4;
* ``action``: whether the action classifier (trained on real sequences) reads PSGAN's poses as the action;
* ``seconds``: the time of the call (model already loaded).

Writes ``OUT/results.json`` and ``OUT/contact-sheet.png`` (every third frame of each video, one row per video,
named in ``contact-sheet.txt``), and prints a table. Requires mediapipe (see README).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

BODY_JOINTS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # nose .. ankles (MediaPipe's ears/eyes differ)
LIMB_ENDS = (4, 7, 10, 13)  # wrists and ankles


def video_poses(video: np.ndarray, estimator) -> np.ndarray:
    """MediaPipe's keypoints ``[T, K, 3]`` of each frame of a video ``[T, H, W, 3]``."""
    return np.stack([np.asarray(estimator(frame[None]))[0] for frame in video])


def pck(found: np.ndarray, rendered: np.ndarray, alpha: float = 0.2) -> float:
    """Share of rendered joints that MediaPipe puts within ``alpha`` body sizes, over every frame."""
    from pgvg_core.poses.keypoints import body_size

    sizes = body_size(torch.from_numpy(rendered)).numpy()  # [T]
    seen = rendered[:, BODY_JOINTS, 2] > 0
    distance = np.linalg.norm(found[:, BODY_JOINTS, :2] - rendered[:, BODY_JOINTS, :2], axis=-1)
    correct = (distance <= alpha * sizes[:, None]) & (found[:, BODY_JOINTS, 2] > 0.3) & seen
    return float(correct.sum() / max(seen.sum(), 1))


def travel(found: np.ndarray, height: float) -> float:
    """The largest extent of a wrist's or ankle's path over the clip, in body heights."""
    extents = []
    for joint in LIMB_ENDS:
        seen = found[:, joint, 2] > 0.5
        if seen.sum() >= 2:
            path = found[seen, joint, :2]
            extents.append(float(np.linalg.norm(path.max(0) - path.min(0))))
    return max(extents, default=0.0) / height


def retargeted(animator):
    """``poses(first, action, seed)`` that moves the photo's pose as a real training clip of the action moves
    (each joint's displacement from the clip's first frame, scaled by torso length): stage 2 judged alone, and
    the action classifier's ceiling on these photos. The clips begin at rest and ease into the action
    (``onset=1``), as a person in a photo does: a clip cut from the middle of a performance (an arm already up)
    added to a photo's arm at rest moves it to places the action never goes."""
    from pgvg_data.synthetic import SyntheticActions

    from pgvg_core.poses.keypoints import rescale_keypoints
    from pgvg_core.poses.skeleton import torso_and_hips

    data = animator.stage1.data  # a bundle has no dataset: the real clips come from the data it describes
    dataset = SyntheticActions(split="train", resolution=data.resolution, frames=data.frames, actions=data.classes,
                               render=False, onset=1.0)

    def poses(first: torch.Tensor, action: str, *, seed: int = 0) -> torch.Tensor:
        label = animator.action_index(action)
        clips = [i for i in range(min(len(dataset), 20 * len(animator.classes))) if int(dataset[i]["label"]) == label]
        clip = dataset[clips[seed % len(clips)]]["keypoints"]  # [T, K, 3] in the dataset's pixels
        clip = rescale_keypoints(clip, animator.resolution / dataset.resolution)  # -> stage-2 pixels
        ratio = torso_and_hips(first.numpy())[0] / torso_and_hips(clip[0].numpy())[0]
        out = first[None].repeat(len(clip), 1, 1)
        out[..., :2] = first[None, :, :2] + (clip[..., :2] - clip[:1, :, :2]) * ratio
        return out

    return poses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True, help="bundle file or pipeline folder")
    parser.add_argument("--classifier", default=None, help="action-classifier run (default MODEL/action-classifier)")
    parser.add_argument("--actions", nargs="+", default=["wave-both", "jump", "arm-circles", "squat", "kick"])
    parser.add_argument("--out", type=Path, default=Path("runs/real-photos"))
    parser.add_argument("--media", type=Path, default=Path.home() / ".cache" / "pgvg" / "media")
    parser.add_argument("--compose", choices=("layers", "network"), default="layers",
                        help="how stage 2 draws the frames (pgvg animate --compose)")
    parser.add_argument("--poses", choices=("psgan", "real"), default="psgan",
                        help="real: stage 2 alone, on a real clip's motion of the action retargeted to the photo")
    args = parser.parse_args()

    from media import real_people
    from PIL import Image

    from pgvg_core.app.animate import animate_photo
    from pgvg_core.app.pipeline import Animator
    from pgvg_core.config import ComponentSpec, build
    from pgvg_core.media.sheets import save_png
    from pgvg_core.media.video import read_video
    from pgvg_core.training.run import load_run

    args.out.mkdir(parents=True, exist_ok=True)
    people = real_people(args.media)
    estimator = build("pose_sources", ComponentSpec(name="mediapipe"))
    lpips = build("metrics", ComponentSpec(name="lpips-st"))
    animator = Animator(args.model)
    if args.poses == "real":
        animator.poses = retargeted(animator)
    classifier_dir = Path(args.classifier) if args.classifier else Path(args.model) / "action-classifier"
    classifier = load_run(classifier_dir).nets["classifier"] if classifier_dir.is_dir() else None
    results, rows, labels = [], [], []
    for name, photo in people.items():
        for action in args.actions:
            out = args.out / f"{name}-{action}.mp4"
            started = time.perf_counter()
            try:
                written = animate_photo(str(photo), action=action, model=args.model, out=str(out),
                                        animator=animator, compose=args.compose)
            except Exception as error:  # noqa: BLE001 - a refusal is a result too
                results.append({"photo": name, "action": action, "refused": str(error)})
                print(f"{name:<26} {action:<12} refused: {error}")
                continue
            seconds = time.perf_counter() - started
            video = read_video(out)  # [T, H, W, 3]
            view, crop = written["view"], written["crop"]
            rendered = written["poses_photo"].copy()  # [T, K, 3] in photo pixels -> video pixels
            rendered[..., 0] = (rendered[..., 0] - view.left) * view.scale
            rendered[..., 1] = (rendered[..., 1] - view.top) * view.scale
            found = video_poses(video, estimator)
            first = rendered[0][rendered[0, :, 2] > 0]
            height = float(first[:, 1].max() - first[:, 1].min())
            # Identity: the person crop of the photo (frame 0 is the photo's pose) against frames 1-4.
            x0, y0 = int((crop.left - view.left) * view.scale), int((crop.top - view.top) * view.scale)
            size = int(crop.size * view.scale)
            box = lambda frames: torch.from_numpy(  # noqa: E731
                np.stack([np.asarray(Image.fromarray(f).crop((x0, y0, x0 + size, y0 + size)).resize((128, 128)))
                          for f in frames])).permute(0, 3, 1, 2).float() / 127.5 - 1
            # The photo as the video shows it: frame 0 (the photo's pose: the photo itself inside it; beyond
            # its edge, the canvas's fill, which a crop of the photo would put black there).
            reference = box([video[0]] * 4)
            lpips.reset()
            lpips.update(reference, box(video[1:5]))
            entry = {"photo": name, "action": action, "frames": len(video), "video_size": list(video.shape[1:3]),
                     "person_height_px": height, "found": float((found[..., 2] > 0).any(-1).mean()),
                     "pck": pck(found, rendered), "travel": travel(found, height),
                     "identity_lpips_st": lpips.compute()["lpips"], "seconds": seconds}
            if classifier is not None:
                poses = written["crop"].to_model(torch.from_numpy(written["poses_photo"]).float())
                with torch.no_grad():
                    guess = classifier(poses[None]).argmax(-1).item()
                entry["action_recognised"] = animator.classes[guess] == action
            results.append(entry)
            print(f"{name:<26} {action:<12} found {entry['found']:.2f}  pck {entry['pck']:.2f}  travel "
                  f"{entry['travel']:.2f}  lpips-st {entry['identity_lpips_st']:.3f}  "
                  f"{'recognised' if entry.get('action_recognised') else 'not recognised'}  {seconds:.1f} s")
            # One row per video: every third frame, 200 px tall, side by side.
            width = int(200 * video.shape[2] / video.shape[1])
            rows.append(np.concatenate([np.asarray(Image.fromarray(f).resize((width, 200))) for f in video[::3]], 1))
            labels.append(f"{name} {action}")
    done = [r for r in results if "refused" not in r]
    summary = {key: float(np.mean([r[key] for r in done])) for key in ("found", "pck", "travel", "identity_lpips_st",
                                                                       "seconds")} if done else {}
    if done and classifier is not None:
        summary["action_accuracy"] = float(np.mean([r["action_recognised"] for r in done]))
    summary["moving_limbs_share"] = float(np.mean([r["travel"] >= 0.15 for r in done])) if done else 0.0
    (args.out / "results.json").write_text(json.dumps({"model": animator.source, "summary": summary,
                                                       "results": results}, indent=1))
    if rows:
        widest = max(r.shape[1] for r in rows)
        rows = [np.pad(r, ((0, 6), (0, widest - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        save_png(args.out / "contact-sheet.png", np.concatenate(rows))
        (args.out / "contact-sheet.txt").write_text("\n".join(labels) + "\n")  # the rows, top to bottom
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
