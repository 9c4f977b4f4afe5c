"""Video and image I/O: decoding clips (PyAV, or folders of frames), writing MP4 / GIF / PNG, letterboxing."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pgvg_core.errors import DataError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".m4v")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")


def is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES


def frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def read_video(path: str | Path, frames: Sequence[int] | None = None) -> np.ndarray:
    """All frames of a video file, or of a folder of frame images, as uint8 ``[T, H, W, 3]``; with ``frames``,
    those time indices alone, in that order: a video is decoded up to the last of them (decoding cannot skip
    ahead between key frames) and only they are converted to RGB."""
    path = Path(path)
    if path.is_dir():
        return _read_frame_folder(path, frames)
    import av  # noqa: PLC0415

    wanted = None if frames is None else set(frames)
    last = None if frames is None else max(frames, default=-1)
    decoded: dict[int, np.ndarray] = {}
    count = 0  # frames decoded
    try:
        with av.open(str(path)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                count = index + 1
                if wanted is None or index in wanted:
                    decoded[index] = frame.to_ndarray(format="rgb24")
                if last is not None and index >= last:
                    break
    except (av.error.FFmpegError, IndexError, ValueError, OSError) as error:
        raise DataError(f"{path}: cannot decode video ({type(error).__name__}: {error})") from None
    if not decoded and frames is None:
        raise DataError(f"{path}: the video has no frames")
    return _in_order(path, decoded, frames, count)


def _in_order(path: Path, decoded: Mapping[int, np.ndarray], frames: Sequence[int] | None,
              count: int) -> np.ndarray:
    """The decoded frames ``[T, H, W, 3]``: all ``count`` of them, or those at ``frames`` in that order."""
    if frames is None:
        return np.stack([decoded[index] for index in range(count)])
    missing = sorted(set(frames) - set(decoded))
    if missing:
        raise DataError(f"{path}: frame {missing[0]} was asked for, but the video has {count} frames")
    return np.stack([decoded[index] for index in frames])


def _read_frame_folder(folder: Path, wanted: Sequence[int] | None = None) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415

    files = frame_files(folder)
    if not files:
        raise DataError(f"{folder}: folder has no frame images ({', '.join(IMAGE_SUFFIXES)})")
    if wanted is not None:
        outside = [index for index in wanted if not 0 <= index < len(files)]
        if outside:
            raise DataError(f"{folder}: frame {outside[0]} was asked for, but the folder has {len(files)} frames")
        files = [files[index] for index in wanted]
    frames = []
    for file in files:
        try:
            with Image.open(file) as image:
                frames.append(np.asarray(image.convert("RGB")))
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"{file}: cannot read image ({error})") from None
    if len({f.shape for f in frames}) > 1:
        raise DataError(f"{folder}: frames have different sizes")
    return np.stack(frames)


def letterbox(frames: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize ``[T, H, W, 3]`` uint8 to ``[T, size, size, 3]``, keeping the aspect ratio and padding with black.

    :returns: the frames and ``[scale, offset_x, offset_y]`` so that ``new = old * scale + offset``.
    """
    import torch  # noqa: PLC0415
    import torch.nn.functional as F  # noqa: PLC0415

    height, width = frames.shape[1:3]
    scale = size / max(height, width)
    new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    tensor = torch.from_numpy(np.array(frames)).permute(0, 3, 1, 2).float()  # a writable copy
    resized = F.interpolate(tensor, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    out = torch.zeros(len(frames), 3, size, size)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    out[:, :, top : top + new_h, left : left + new_w] = resized
    boxed = out.round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return boxed, np.array([scale, left, top], np.float32)


def write_video(path: str | Path, frames: np.ndarray | Sequence[np.ndarray], fps: float = 8.0) -> Path:
    """Write uint8 ``[T, H, W, 3]`` frames as .mp4 (H.264), .gif (looping) or a folder of PNGs."""
    path = Path(path)
    frames = np.asarray(frames, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".gif":
        from PIL import Image  # noqa: PLC0415

        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    elif suffix in (".mp4", ".mov", ".mkv", ".avi"):
        _write_av(path, frames, fps)
    else:
        raise DataError(f"{path}: unsupported output; use .mp4 or .gif")
    return path


def _write_av(path: Path, frames: np.ndarray, fps: float) -> None:
    from fractions import Fraction  # noqa: PLC0415

    import av  # noqa: PLC0415

    # H.264 with yuv420p needs even sizes: pad by one pixel where needed.
    height, width = frames.shape[1:3]
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264" if path.suffix.lower() != ".avi" else "mpeg4",
                                      rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"} if path.suffix.lower() != ".avi" else {}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def to_uint8(frames) -> np.ndarray:
    """``[-1, 1]`` float tensor or array, channels first ``[..., 3, H, W]`` -> uint8 ``[..., H, W, 3]``."""
    import torch  # noqa: PLC0415

    if not isinstance(frames, torch.Tensor):
        frames = torch.from_numpy(np.asarray(frames))
    # Scaled channels first (contiguous, torch's threads), then moved: 3x faster than numpy on 16 frames at 512.
    scaled = ((frames.detach().float().clamp(-1, 1) + 1) * 127.5 + 0.5).to(torch.uint8)
    return scaled.movedim(-3, -1).contiguous().cpu().numpy()
