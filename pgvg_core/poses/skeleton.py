"""Skeletons: what a pose's keypoints are (names, limbs, left/right pairs, drawing colours).

A skeleton is a component (kind ``skeletons``, registered by plugins through ``pgvg_register_skeletons``);
a dataset names the one its keypoints follow (``Dataset.skeleton``, ``"body-18"`` by default) and everything
generic (heatmaps, drawing, flips, abnormal poses, PCK, the networks' channel counts) reads ``K`` and the
limb graph from it, never from a constant. :data:`BODY_18` is the human body in COCO/OpenPose order,
:data:`FACE_68` the face in iBUG 300-W order.

>>> tiny = Skeleton(name="tiny", keypoint_names=("head", "left_hand", "right_hand"),
...                 limbs=((0, 1), (0, 2)), limb_colours=((255, 0, 0), (0, 0, 255)),
...                 flip_pairs=(("left_hand", "right_hand"),))
>>> tiny.num_keypoints, tiny.flip_permutation, tiny.parents
(3, (0, 2, 1), (-1, 0, 0))
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    import numpy as np


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(str(name) for name in value)


def _parts(value: Iterable[Iterable[Iterable[str]]]) -> tuple[tuple[tuple[str, ...], ...], ...]:
    return tuple(tuple(tuple(str(name) for name in part) for part in side) for side in value)


def _pairs(value: Iterable[Iterable[Any]]) -> tuple[tuple[Any, ...], ...]:
    return tuple(tuple(pair) for pair in value)


@attrs.frozen(kw_only=True)
class Skeleton:
    """Keypoints ``[..., K, 3]`` follow a skeleton: ``K`` named keypoints joined by limbs.

    :param name: the registered name (``body-18``).
    :param keypoint_names: one name per keypoint, in channel order; ``K`` is their number.
    :param limbs: pairs of keypoint indices, in drawing order. Together they form the limb graph that the
        parent tree (:attr:`parents`) is grown from; a skeleton may have several separate parts (a face's
        eyes, brows and lips).
    :param limb_colours: RGB (0-255) per limb, for drawings; a keypoint is drawn in the colour of the limb
        with its index (the last limb's for the rest), as OpenPose does.
    :param flip_pairs: left/right keypoint pairs by name, swapped by a horizontal flip.
    :param root: the keypoint the parent tree grows from (default: the first limb's first keypoint); other
        parts of the limb graph grow from their lowest-indexed keypoint.
    :param size_parts: how a pose of this skeleton is measured for framing (the size and place that crops give
        people, :mod:`pgvg_core.poses.framing`): ``(from, to)``, each a tuple of parts and a part a tuple of
        keypoint names. The length runs from the centre of ``from`` to the centre of ``to``, which anchors the
        crop (body-18: neck to the hip centre; face-68: the mouth to the eye midpoint). A side's centre is the
        mean of its parts' centres, a part's the mean of its found keypoints; a part counts where at least
        ``size_min_found`` of its keypoints (all, where it has fewer) are found, and a side needs all its parts.
        Empty: poses of this skeleton cannot be framed (``pgvg animate`` and ``crop = "person"`` say so).
    :param outline: keypoint names around the person's outline, in order (a face: the jaw, then the brows back):
        where ``pgvg animate`` pastes a rendered crop into the photo, that polygon grown by a third about its
        centre. Empty: the thick limbs of the skeleton instead.
    :param pose_source: the pose source (a registered name) that finds this skeleton's keypoints in real photos
        and videos: ``pgvg animate``'s default for models of this skeleton.
    """

    name: str = attrs.field()
    keypoint_names: tuple[str, ...] = attrs.field(converter=_names)
    limbs: tuple[tuple[int, int], ...] = attrs.field(converter=_pairs)
    limb_colours: tuple[tuple[int, int, int], ...] = attrs.field(converter=_pairs)
    flip_pairs: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_pairs)
    root: str | None = attrs.field(default=None)
    size_parts: tuple[tuple[tuple[str, ...], ...], ...] = attrs.field(default=(), converter=_parts)
    size_min_found: int = attrs.field(default=1)
    outline: tuple[str, ...] = attrs.field(default=(), converter=_names)
    pose_source: str | None = attrs.field(default=None)
    #: keypoint index permutation that mirrors left and right (derived from ``flip_pairs``)
    flip_permutation: tuple[int, ...] = attrs.field(init=False)
    #: each keypoint's parent index in the limb graph's spanning tree, -1 for a root or a keypoint on no limb
    parents: tuple[int, ...] = attrs.field(init=False)
    #: the tree's bones ``(parent, child)``, parents before children (a child's parent is placed first)
    bones: tuple[tuple[int, int], ...] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self._validate()
        index = {name: k for k, name in enumerate(self.keypoint_names)}
        permutation = list(range(self.num_keypoints))
        for left, right in self.flip_pairs:
            permutation[index[left]], permutation[index[right]] = index[right], index[left]
        object.__setattr__(self, "flip_permutation", tuple(permutation))
        bones = self._grow_tree(self.root_index)
        parents = [-1] * self.num_keypoints
        for parent, child in bones:
            parents[child] = parent
        object.__setattr__(self, "parents", tuple(parents))
        object.__setattr__(self, "bones", bones)

    def _validate(self) -> None:
        where = f"skeleton {self.name!r}"
        if not self.name:
            raise ValueError("a skeleton needs a name")
        if not self.keypoint_names:
            raise ValueError(f"{where} has no keypoints")
        seen: set[str] = set()
        for name in self.keypoint_names:
            if not name:
                raise ValueError(f"{where}: a keypoint name is empty")
            if name in seen:
                raise ValueError(f"{where}: keypoint {name!r} is named twice")
            seen.add(name)
        count = len(self.keypoint_names)
        for number, limb in enumerate(self.limbs):
            if len(limb) != 2 or not all(isinstance(k, int) and not isinstance(k, bool) for k in limb):
                raise ValueError(f"{where}: limb {number} is {limb!r}; a limb is a pair of keypoint indices")
            a, b = limb
            if not (0 <= a < count and 0 <= b < count):
                raise ValueError(f"{where}: limb {number} {limb!r} names a keypoint index out of range: "
                                 f"the skeleton has {count} keypoints (0..{count - 1})")
            if a == b:
                raise ValueError(f"{where}: limb {number} {limb!r} joins keypoint {a} to itself")
        if len(self.limb_colours) != len(self.limbs):
            raise ValueError(f"{where}: {len(self.limbs)} limbs but {len(self.limb_colours)} limb colours; give "
                             "one RGB colour per limb")
        for number, colour in enumerate(self.limb_colours):
            if len(colour) != 3 or not all(isinstance(c, int) and 0 <= c <= 255 for c in colour):
                raise ValueError(f"{where}: limb colour {number} is {colour!r}; expected three integers in 0..255")
        paired: set[str] = set()
        for pair in self.flip_pairs:
            if len(pair) != 2:
                raise ValueError(f"{where}: flip pair {pair!r} is not a pair of keypoint names")
            for name in pair:
                if name not in seen:
                    raise ValueError(f"{where}: flip pair {pair!r} names an unknown keypoint {name!r}"
                                     f"{_close(name, self.keypoint_names)}")
                if name in paired:
                    raise ValueError(f"{where}: keypoint {name!r} is in more than one flip pair")
                paired.add(name)
            if pair[0] == pair[1]:
                raise ValueError(f"{where}: flip pair {pair!r} pairs a keypoint with itself")
        if self.root is not None and self.root not in seen:
            raise ValueError(f"{where}: root {self.root!r} is not one of its keypoints{_close(self.root, seen)}")
        if self.size_parts and (len(self.size_parts) != 2 or not all(side and all(side) for side in self.size_parts)):
            raise ValueError(f"{where}: size_parts is (from, to), two non-empty tuples of parts (each a tuple of "
                             f"keypoint names), not {self.size_parts!r}")
        named = [("size_parts", n) for side in self.size_parts for part in side for n in part]
        for field, name in [*named, *(("outline", n) for n in self.outline)]:
            if name not in seen:
                raise ValueError(f"{where}: {field} names an unknown keypoint {name!r}{_close(name, seen)}")
        if self.outline and len(self.outline) < 3:
            raise ValueError(f"{where}: an outline is a polygon: give at least 3 keypoint names")
        if self.size_min_found < 1:
            raise ValueError(f"{where}: size_min_found is {self.size_min_found}; at least 1")

    def _grow_tree(self, root: int) -> tuple[tuple[int, int], ...]:
        """The limb graph's spanning forest as bones ``(parent, child)``, parents first: sweeps over the limbs
        in order from ``root``, then from the lowest-indexed keypoint of each part not reached yet."""
        on_limb = sorted({k for limb in self.limbs for k in limb})
        reached, bones = {root}, []
        starts = iter(on_limb)
        while True:
            grew = True
            while grew:
                grew = False
                for a, b in self.limbs:
                    for parent, child in ((a, b), (b, a)):
                        if parent in reached and child not in reached:
                            bones.append((parent, child))
                            reached.add(child)
                            grew = True
            start = next((k for k in starts if k not in reached), None)
            if start is None:
                return tuple(bones)
            reached.add(start)

    @property
    def num_keypoints(self) -> int:
        """``K``."""
        return len(self.keypoint_names)

    @property
    def root_index(self) -> int:
        """The keypoint the parent tree grows from (``root``, else the first limb's first keypoint)."""
        return self.index(self.root) if self.root is not None else (self.limbs[0][0] if self.limbs else 0)

    @property
    def keypoint_colours(self) -> tuple[tuple[int, int, int], ...]:
        """The drawing colour of each keypoint: the limb colour at its index (the last one's past the end),
        white for a skeleton without limbs."""
        colours = self.limb_colours or ((255, 255, 255),)
        return tuple(colours[min(k, len(colours) - 1)] for k in range(self.num_keypoints))

    def index(self, name: str) -> int:
        """The channel of keypoint ``name``; an unknown name raises with the closest names."""
        try:
            return self.keypoint_names.index(name)
        except ValueError:
            raise KeyError(f"skeleton {self.name!r} has no keypoint {name!r}"
                           f"{_close(name, self.keypoint_names)}") from None

    def measure(self, keypoints: np.ndarray, found: float = 0.1) -> tuple[float, np.ndarray] | None:
        """What framing measures in a pose ``[K, 3]`` (see ``size_parts``): (length, anchor ``[2]``), or None
        where a part is not found (a keypoint counts as found above confidence ``found``)."""
        import numpy as np

        if not self.size_parts:
            return None
        centres = []
        for side in self.size_parts:
            parts = []
            for part in side:
                points = keypoints[[self.index(name) for name in part]]
                seen = points[points[:, 2] > found, :2]
                if len(seen) < min(self.size_min_found, len(part)):
                    return None
                parts.append(seen.mean(axis=0))
            centres.append(np.mean(parts, axis=0))
        return float(np.linalg.norm(centres[1] - centres[0])), centres[1]

    def size_text(self) -> str:
        """The keypoints :meth:`measure` needs, in words (for errors): ``neck; right_hip or left_hip``."""
        def part_text(part: tuple[str, ...]) -> str:
            need = min(self.size_min_found, len(part))
            stem = {name.rstrip("0123456789").rstrip("_") for name in part}
            if len(part) > 2 and len(stem) == 1:
                return f"{need} of the {len(part)} {stem.pop()} points"
            return " and ".join(part) if need == len(part) else (" or ".join(part) if need == 1
                                                                 else f"{need} of {', '.join(part)}")
        return "; ".join(" and ".join(part_text(part) for part in side) for side in self.size_parts) \
            or "nothing (the skeleton names no size_parts)"

    def as_dict(self) -> dict[str, Any]:
        """Plain data (what :meth:`from_dict` reads), e.g. for a model bundle."""
        return {"name": self.name, "keypoint_names": list(self.keypoint_names),
                "limbs": [list(limb) for limb in self.limbs], "limb_colours": [list(c) for c in self.limb_colours],
                "flip_pairs": [list(pair) for pair in self.flip_pairs], "root": self.root,
                "size_parts": [[list(part) for part in side] for side in self.size_parts],
                "size_min_found": self.size_min_found, "outline": list(self.outline), "pose_source": self.pose_source}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Skeleton:
        """A skeleton from :meth:`as_dict`'s (or ``attrs.asdict``'s) plain data; derived fields are ignored."""
        fields = {field.name for field in attrs.fields(cls) if field.init}
        unknown = sorted(set(data) - fields - {"flip_permutation", "parents", "bones"})
        if unknown:
            raise ValueError(f"skeleton data has unknown keys {unknown}; expected {sorted(fields)}")
        return cls(**{key: value for key, value in data.items() if key in fields})

    def __repr__(self) -> str:
        return f"Skeleton({self.name!r}, K={self.num_keypoints}, limbs={len(self.limbs)})"


def _close(name: str, names: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), list(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


# ----------------------------------------------------------------------------------------------- body-18

#: The human body: 18 keypoints in COCO/OpenPose order, OpenPose's COCO limbs and colours.
BODY_18 = Skeleton(
    name="body-18",
    keypoint_names=(
        "nose", "neck",
        "right_shoulder", "right_elbow", "right_wrist",
        "left_shoulder", "left_elbow", "left_wrist",
        "right_hip", "right_knee", "right_ankle",
        "left_hip", "left_knee", "left_ankle",
        "right_eye", "left_eye", "right_ear", "left_ear",
    ),
    # OpenPose's COCO limbs, in its drawing order (each from the neck outwards).
    limbs=(
        (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
        (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
    ),
    limb_colours=(
        (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
        (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
        (170, 0, 255), (255, 0, 255), (255, 0, 170),
    ),
    flip_pairs=tuple((f"left_{part}", f"right_{part}")
                     for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle", "eye", "ear")),
    root="neck",
    size_parts=((("neck",),), (("right_hip", "left_hip"),)),  # neck to the hip centre (either hip will do)
    pose_source="mediapipe",
)  # fmt: skip


def torso_and_hips(keypoints: np.ndarray) -> tuple[float, np.ndarray] | None:
    """Body-18's framing measure (:meth:`Skeleton.measure`): ``[K, 3]`` -> (torso length, neck to hip centre;
    the hip centre ``[2]``), or None without a neck and at least one hip."""
    return BODY_18.measure(keypoints)


# ------------------------------------------------------------------------------------------- face-68

def _face_68() -> Skeleton:
    """The iBUG 300-W 68-point face (dlib's and OpenFace's order): jaw 0-16 (from the subject's right ear down
    to the chin and up to the left), brows 17-21 (right) and 22-26 (left), nose bridge 27-30, nostrils 31-35,
    eyes 36-41 (right) and 42-47 (left), lips 48-59 (outer) and 60-67 (inner); "right" is the subject's (the
    image's left in a frontal face), as in body-18."""
    parts = (("jaw", 17, False), ("right_brow", 5, False), ("left_brow", 5, False), ("nose_bridge", 4, False),
             ("nostril", 5, False), ("right_eye", 6, True), ("left_eye", 6, True), ("outer_lip", 12, True),
             ("inner_lip", 8, True))
    names, limbs, colours, start = [], [], [], 0
    palette = {"jaw": (255, 255, 255), "right_brow": (255, 170, 0), "left_brow": (255, 170, 0),
               "nose_bridge": (0, 255, 255), "nostril": (0, 170, 255), "right_eye": (0, 255, 0),
               "left_eye": (0, 255, 0), "outer_lip": (255, 0, 170), "inner_lip": (255, 0, 255)}
    for part, count, closed in parts:
        names += [f"{part}_{i}" for i in range(count)]
        chain = [(start + i, start + i + 1) for i in range(count - 1)] + ([(start + count - 1, start)] if closed else [])
        limbs += chain
        colours += [palette[part]] * len(chain)
        start += count
    limbs.append((30, 33))  # nose tip to the nostrils' middle: the nose is one part
    colours.append(palette["nostril"])
    mirror = [*((f"jaw_{i}", f"jaw_{16 - i}") for i in range(8)),
              *((f"right_brow_{i}", f"left_brow_{4 - i}") for i in range(5)),
              ("nostril_0", "nostril_4"), ("nostril_1", "nostril_3"),
              # eyes: the outer corner of one is the outer corner of the other, going round the other way
              *((f"right_eye_{i}", f"left_eye_{(3 - i) % 6}") for i in range(6)),
              ("outer_lip_0", "outer_lip_6"), ("outer_lip_1", "outer_lip_5"), ("outer_lip_2", "outer_lip_4"),
              ("outer_lip_7", "outer_lip_11"), ("outer_lip_8", "outer_lip_10"),
              ("inner_lip_0", "inner_lip_4"), ("inner_lip_1", "inner_lip_3"), ("inner_lip_5", "inner_lip_7")]
    # Framed by the mouth to the eye midpoint: a length that changes little when the head turns or the mouth
    # opens. Pasted within the jaw and the brows.
    part = lambda name, count: tuple(f"{name}_{i}" for i in range(count))  # noqa: E731
    return Skeleton(name="face-68", keypoint_names=names, limbs=limbs, limb_colours=colours,
                    flip_pairs=[(left, right) for right, left in mirror], root="nose_bridge_3",
                    size_parts=((part("outer_lip", 12),), (part("right_eye", 6), part("left_eye", 6))),
                    size_min_found=3, outline=(*part("jaw", 17), *reversed(part("left_brow", 5)),
                                               *reversed(part("right_brow", 5))),
                    pose_source="mediapipe-face")


#: The face: 68 landmarks in iBUG 300-W order (see :func:`_face_68`).
FACE_68 = _face_68()


# ------------------------------------------------------------------------------------------- by name

def skeleton_by_name(name: str, registries: Any = None) -> Skeleton:
    """The registered skeleton ``name``; an unknown name raises with the closest one and those known.

    :param registries: a :class:`registries.RegistrySet`; default: the process-wide plugins'.
    """
    from registries import RegistryError

    if registries is None:
        from pgvg_core.plugins import get_registries

        registries = get_registries()
    entry = registries["skeletons"].get(name)
    skeleton = entry.factory()
    if not isinstance(skeleton, Skeleton):
        raise RegistryError(f"skeleton '{name}' from plugin '{entry.plugin}' ({entry.origin}) returned "
                            f"{type(skeleton).__name__}, not a pgvg_core.poses.skeleton.Skeleton")
    if skeleton.name != name:
        raise RegistryError(f"skeleton '{name}' from plugin '{entry.plugin}' ({entry.origin}) is named "
                            f"'{skeleton.name}'; register it under its own name")
    return skeleton


def as_skeleton(value: Skeleton | str | Mapping[str, Any], registries: Any = None) -> Skeleton:
    """A skeleton from a skeleton, a registered name (``"body-18"``) or :meth:`Skeleton.as_dict` data."""
    if isinstance(value, Skeleton):
        return value
    if isinstance(value, str):
        return skeleton_by_name(value, registries)
    if isinstance(value, Mapping):
        return Skeleton.from_dict(value)
    raise TypeError(f"expected a Skeleton, a skeleton name or skeleton data, got {type(value).__name__}")


__all__ = ["BODY_18", "FACE_68", "Skeleton", "as_skeleton", "skeleton_by_name", "torso_and_hips"]
