"""Drawing a real photo's person in new poses from the photo itself: SCGAN's compositions (``pgvg animate
--compose``) at the photo's resolution.

- ``network``: the network's frame, the photo's detail carried through the limb warp
  (:meth:`SCGANGenerator.render_detailed`), over a *clean plate* (the photo without the arms and legs that
  move) so a moved limb uncovers torso or background instead of leaving a copy behind;
- ``layers``: the photo alone, front to back: the arms and legs of the target pose warped from the photo, the
  rest of the person moved rigidly as the trunk moves, and behind them the background, the person filled in
  from around them (:func:`layered_frame`);
- ``warp``: the layers over the photo itself (nothing removed: the person's old place shows through).

All three follow a body's trunk and limbs: they are drawn for skeletons with body-18's keypoints
(:func:`draws_layers`); other skeletons get the network's frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pgvg_core.media.fill import textured_fill
from pgvg_core.poses.keypoints import FOUND, KEYPOINT_INDEX, LIMBS, SURE, bone_distance, limb_mask, rescale_keypoints
from pgvg_core.poses.skeleton import BODY_18, Skeleton, torso_and_hips
from pgvg_scgan.warp import detail_grid, grid_size_for, limb_transforms, warp_image

#: The compositions a body's renderer offers, best first (``pgvg animate --compose``; the first is the default).
COMPOSITIONS = ("layers", "network", "warp")


def pixel_centres(size: tuple[int, int], device: torch.device, scale: tuple[float, float] = (1.0, 1.0)) -> torch.Tensor:
    """The centres of a ``size`` picture's pixels as complex keypoint coordinates ``[1, H, W]``, in the pixels of
    a picture ``scale`` (height, width) times larger (the same picture at a higher resolution)."""
    ys, xs = torch.meshgrid(torch.arange(size[0], device=device, dtype=torch.float32),
                            torch.arange(size[1], device=device, dtype=torch.float32), indexing="ij")
    return torch.complex((xs + 0.5) * scale[1] - 0.5, (ys + 0.5) * scale[0] - 0.5)[None]


def sampling_grid(points: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Complex keypoint coordinates ``[..., h, w]`` in a ``size`` picture -> the ``grid_sample`` grid
    ``[..., h, w, 2]`` (``align_corners=False``) that samples it there."""
    height, width = size
    return torch.stack([(points.real + 0.5) / width * 2 - 1, (points.imag + 0.5) / height * 2 - 1], dim=-1)


def draws_layers(skeleton: Skeleton) -> bool:
    """Whether the compositions of this module can draw poses of ``skeleton``: they follow body-18's trunk
    (neck, shoulders, hips) and limbs, by index."""
    return skeleton.keypoint_names == BODY_18.keypoint_names


def plate_for(composition: str, detail: torch.Tensor, source: torch.Tensor, poses: torch.Tensor,
              person: torch.Tensor | None = None) -> torch.Tensor:
    """What shows where the person was, for ``composition``: ``detail [B, 3, H, W]`` (the photo's crop),
    its pose ``source [B, K, 3]`` and the clip's ``poses [B, T, K, 3]`` in its pixels -> ``[B, 3, H, W]``:
    the photo itself for ``warp``, else the photo without the limbs that move in the clip (whole, where the
    person's segmentation ``person [B, 1, H, W]`` is given: see :func:`clean_plate`)."""
    if composition == "warp":
        return detail
    plates = []
    for b, (image, pose, clip) in enumerate(zip(detail, source, poses)):
        measured = torso_and_hips(pose.cpu().numpy())
        torso = measured[0] if measured else 0.25 * detail.shape[-2]
        # A limb inferred, not seen (a side view's far arm, a hand hidden behind the body) has no pixels of its
        # own in the photo: what shows there (the trunk, its twin) stays.
        hidden = far_limbs(pose[None].cpu())[0]  # [L]
        limbs = tuple(limb for limb in limbs_that_move(clip.cpu(), torso) if not hidden[MOVING_LIMBS.index(limb)])
        mask = None if person is None else person[b : b + 1].cpu()
        plates.append(clean_plate(image[None].cpu(), pose[None].cpu(), torso, limbs=limbs, person=mask)
                      .to(detail.device))
    return torch.cat(plates)


#: The limbs that move on their own (upper arms, forearms, thighs, shins): drawn as separate layers.
MOVING_LIMBS: tuple[tuple[int, int], ...] = ((2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (11, 12), (12, 13))
#: How far each of ``MOVING_LIMBS`` reaches from its bone, in torso lengths (neck to hips): a clothed adult's
#: upper arm, forearm, thigh and shin, with a little margin (sleeves, trousers).
LIMB_REACH: tuple[float, ...] = (0.15, 0.12, 0.15, 0.12, 0.2, 0.15, 0.2, 0.15)
#: How far each of ``MOVING_LIMBS`` goes on past its second joint, in lengths of its bone: the hand beyond
#: the wrist, the foot below the ankle (keypoints stop at the wrist and ankle; the limb does not).
LIMB_BEYOND: tuple[float, ...] = (0.0, 0.5, 0.0, 0.5, 0.0, 0.25, 0.0, 0.25)


def clean_plate(image: torch.Tensor, keypoints: torch.Tensor, torso: float,
                limbs: tuple[tuple[int, int], ...] = MOVING_LIMBS, person: torch.Tensor | None = None) -> torch.Tensor:
    """The picture without the person's arms and legs (``image [B, 3, H, W]``, keypoints ``[B, K, 3]`` in its
    pixels), or only without ``limbs``: what shows where a limb was once it has moved away, filled from the
    torso and background (a blur: remove only the limbs that move, see :func:`limbs_that_move`).

    With the person's segmentation ``person [B, 1, H, W]`` (1 = the person), each limb goes whole (with what
    :func:`moving_parts` gives it: a hand, a sleeve, a trouser leg wider than the limb), and a hole beside the
    trunk is filled from the background alone, the rest of the person left out (no smear of their colours into
    the wall); what the segmentation says is background stays as the photo shows it."""
    if not limbs:
        return image.clone()
    size = tuple(image.shape[-2:])
    index = [MOVING_LIMBS.index(limb) for limb in limbs]
    beyond = tuple(LIMB_BEYOND[i] for i in index)
    reach = torch.tensor([[PLATE_MARGIN * LIMB_REACH[i] * torso for i in index]])
    holes = limb_mask(keypoints, size, width=reach, limbs=limbs, beyond=beyond)[:, None]  # [B, 1, H, W]
    # A hole on the trunk is filled from the trunk, one beside it from the background: an arm that hung at
    # the side leaves background there, not a smear of skin and wall.
    trunk = trunk_body(keypoints, size, torso)  # [B, 1, H, W]
    elsewhere = trunk  # what the background's fill must not read
    if person is not None:
        # What the segmentation says is not the person is the background itself: it stays as the photo shows
        # it (a limb's hole is its band on the person, with what goes with it), never a fill.
        ours = grown(person, torso * PERSON_GROW)
        parts = moving_parts(keypoints, person, torch.tensor([torso]), limbs).to(holes.dtype)
        holes = torch.maximum(holes * ours, parts)
        elsewhere = trunk | ours
    from_trunk = textured_fill(image, ((holes > 0.5) | ~trunk).to(image.dtype))
    from_background = textured_fill(image, ((holes > 0.5) | elsewhere).to(image.dtype))
    empty = ~(trunk & (holes <= 0.5)).flatten(1).any(1)[:, None, None, None]  # no trunk left to fill from
    filled = torch.where(trunk & ~empty, from_trunk, from_background)
    fill = (2 * holes).clamp(max=1)  # the whole hole filled, its soft outer edge fading into the picture
    return fill * filled + (1 - fill) * image


# How far the person reaches from each bone of ``LIMBS``, in torso lengths, and past its second joint: the
# trunk and clothes about the shoulders-hips line, the arms and legs as in ``LIMB_REACH`` / ``LIMB_BEYOND``,
# the head with its hair about the nose, eyes and ears.
_SILHOUETTE = {(1, 2): 0.15, (1, 5): 0.15, (2, 3): 0.15, (3, 4): 0.12, (5, 6): 0.15, (6, 7): 0.12,
               (1, 8): 0.3, (8, 9): 0.2, (9, 10): 0.15, (1, 11): 0.3, (11, 12): 0.2, (12, 13): 0.15,
               (1, 0): 0.3, (0, 14): 0.35, (14, 16): 0.35, (0, 15): 0.35, (15, 17): 0.35}
_SILHOUETTE_BEYOND = {(3, 4): 0.5, (6, 7): 0.5, (9, 10): 0.25, (12, 13): 0.25}


def person_silhouette(keypoints: torch.Tensor, size: tuple[int, int], torsos: torch.Tensor) -> torch.Tensor:
    """Roughly where a person is, hair and clothes included: ``[N, K, 3]`` (pixels), torso lengths ``[N]`` ->
    ``[N, H, W]`` in [0, 1] (the torso's quadrilateral and thick bones)."""
    reach = torsos[:, None].float() * torch.tensor([_SILHOUETTE[limb] for limb in LIMBS])[None]  # [N, L]
    beyond = tuple(_SILHOUETTE_BEYOND.get(limb, 0.0) for limb in LIMBS)
    bones = limb_mask(keypoints, size, reach, limbs=LIMBS, beyond=beyond)
    return torch.maximum(bones, torso_mask(keypoints, size).float())


#: How far the body reaches past the lines from each shoulder to its hip (the joints are inside it), in torso
#: lengths: where an arm hung at the side, this much of what it covered is the trunk's (shirt, not wall).
TRUNK_MARGIN = 0.08


def trunk_body(keypoints: torch.Tensor, size: tuple[int, int], torso: float) -> torch.Tensor:
    """The trunk as the body fills it: the shoulders-hips quadrilateral grown by ``TRUNK_MARGIN`` torso lengths
    -> ``[B, 1, H, W]`` bool."""
    return grown(torso_mask(keypoints, size)[:, None].float(), TRUNK_MARGIN * torso)


def torso_mask(keypoints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Inside the quadrilateral of the shoulders and hips of poses ``[N, K, 3]`` (pixels): ``[N, H, W]`` bool
    (all False where one of the four is missing)."""
    corners = [KEYPOINT_INDEX[name] for name in ("right_shoulder", "left_shoulder", "left_hip", "right_hip")]
    quad = keypoints[:, corners].float()  # [N, 4, 3]
    height, width = size
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    sides = []
    for i in range(4):
        a, b = quad[:, i, None, None, :2], quad[:, (i + 1) % 4, None, None, :2]  # [N, 1, 1, 2]
        sides.append((b[..., 0] - a[..., 0]) * (ys - a[..., 1]) - (b[..., 1] - a[..., 1]) * (xs - a[..., 0]))
    sides = torch.stack(sides)  # [4, N, H, W]: the same sign on every side = inside (either winding)
    inside = (sides >= 0).all(0) | (sides <= 0).all(0)
    return inside & (quad[:, :, 2] > FOUND).all(1)[:, None, None]


PLATE_MARGIN = 1.25  # a limb's hole in the clean plate is this much wider than the limb (pose errors)
#: With a segmentation, the person's pixels this many limb widths from a moving limb's bone go with the limb.
PERSON_REACH = 2.5
#: A segmentation is grown by this share of the torso: its soft edge and the halo of the person around it.
PERSON_GROW = 0.03


def part_owners(keypoints: torch.Tensor, person: torch.Tensor, torsos: torch.Tensor) -> torch.Tensor:
    """Which arm or leg each pixel of the person goes with: the index in :data:`MOVING_LIMBS` of its nearest
    bone among them, for the pixels of the segmentation ``person [B, 1, H, W]`` (grown over its soft edge)
    within ``PERSON_REACH`` limb widths of it, nearer it than the head (:data:`STAYING_BONES`) and off the
    trunk (:func:`trunk_body`: the trunk stays, whatever covers it); -1 elsewhere. Nearest, not near: two
    legs side by side each keep their own pixels. Keypoints ``[B, K, 3]`` and torso lengths ``[B]`` in its
    pixels -> ``[B, H, W]`` long."""
    size = tuple(person.shape[-2:])
    keypoints = keypoints.cpu().float()
    nearest, bone = _nearest_bone(seen_only(keypoints), MOVING_LIMBS, 1.0 + torch.tensor(LIMB_BEYOND),
                                  size)  # [B, H*W]
    reach = PERSON_REACH * PLATE_MARGIN * torch.tensor(LIMB_REACH)
    within = nearest < reach[bone] * torsos[:, None].float()
    within &= nearest <= _nearest_bone(keypoints, STAYING_BONES, torch.tensor(STAYING_BEYOND), size)[0]  # the head's
    within = within.view(-1, 1, *size).to(person.device)
    trunk = trunk_body(keypoints, size, float(torsos.max())).to(person.device)
    ours = grown(person, float(torsos.max()) * PERSON_GROW) & within & ~trunk  # [B, 1, H, W]
    return torch.where(ours[:, 0], bone.view(-1, *size).to(person.device), -1)


#: Bones of what stays with the trunk outside its outline: the head (neck to nose, on past the nose to the top
#: of the head). A pixel nearer it than to every arm and leg is not a limb's, though within its reach: a face
#: beside a raised hand, a chin above a hanging arm's shoulder, stay when the arm moves.
STAYING_BONES: tuple[tuple[int, int], ...] = ((1, 0),)
STAYING_BEYOND: tuple[float, ...] = (2.0,)


def _nearest_bone(keypoints: torch.Tensor, bones: tuple[tuple[int, int], ...], longest: torch.Tensor,
                  size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Each pixel's distance to the nearest of ``bones`` found in ``keypoints [B, K, 3]`` (each running on to
    ``longest`` times its length) and that bone's index: ``[B, H*W]`` each (inf where none is found)."""
    a, b = (torch.tensor(index) for index in zip(*bones))
    start = torch.complex(keypoints[:, a, 0], keypoints[:, a, 1])  # [B, L]
    end = torch.complex(keypoints[:, b, 0], keypoints[:, b, 1])
    distance = bone_distance(torch.arange(size[1], dtype=torch.float32), torch.arange(size[0], dtype=torch.float32),
                             start, end, longest)  # [B, L, H*W]
    seen = (keypoints[:, a, 2] > FOUND) & (keypoints[:, b, 2] > FOUND)  # [B, L]
    nearest = distance.masked_fill(~seen[..., None], float("inf")).min(dim=1)
    return nearest.values, nearest.indices


def moving_parts(keypoints: torch.Tensor, person: torch.Tensor, torsos: torch.Tensor,
                 limbs: tuple[tuple[int, int], ...] = MOVING_LIMBS) -> torch.Tensor:
    """What of the person goes with ``limbs`` (a hand, a sleeve, a trouser leg: :func:`part_owners`) ->
    ``[B, 1, H, W]`` bool."""
    owners = part_owners(keypoints, person, torsos)
    wanted = torch.tensor([MOVING_LIMBS.index(limb) for limb in limbs], device=owners.device)
    return torch.isin(owners, wanted)[:, None]


def rigid_parts(source: torch.Tensor, target: torch.Tensor, shares: torch.Tensor,
                detail: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each arm's and leg's part of the photo (``shares [B, L, h, w]``, :func:`part_shares`) moved rigidly with
    its bone (the similarity taking the source bone to the target one): the layer ``[B, 3, H, W]`` and where it
    is, ``[B, 1, H, W]``. Rigid, not through the limb warp: a hand or a sleeve away from the bone is where its
    bone takes it, not smeared by the neighbouring limbs' motions. ``source``, ``target`` ``[B, K, 3]`` in
    pixels of ``detail [B, 3, H, W]``. Where each part lands is found at the shares' (quarter) size, one small
    warp per limb; the picture is sampled once, at full size, each pixel through the transform of the part that
    lands there."""
    ratio, target_a, source_a, _, valid = limb_transforms(source, target, limbs=MOVING_LIMBS)  # [B, L] each
    height, width = detail.shape[-2:]
    small = tuple(shares.shape[-2:])
    centres = pixel_centres(small, detail.device, (height / small[0], width / small[1]))  # in detail pixels
    sampled = (source_a[..., None, None] + (centres[:, None] - target_a[..., None, None])
               * ratio[..., None, None])  # [B, L, h, w]: each limb's source point of each small pixel
    shares = shares.to(detail.dtype)
    alphas = torch.stack([warp_image(shares[:, limb : limb + 1], sampling_grid(sampled[:, limb], (height, width)))[:, 0]
                          for limb in range(len(MOVING_LIMBS))], 1) * valid[..., None, None]  # [B, L, h, w]
    alphas = F.interpolate(alphas, size=(height, width), mode="bilinear", align_corners=False)
    alpha, chosen = alphas.max(dim=1, keepdim=True)  # [B, 1, H, W] each: the part that lands at each pixel
    pick = lambda values: torch.gather(values, 1, chosen.flatten(1)).view(-1, height, width)  # noqa: E731
    pixels = pixel_centres((height, width), detail.device)
    source_points = pick(source_a) + (pixels - pick(target_a)) * pick(ratio)  # [B, H, W]
    return warp_image(detail, sampling_grid(source_points, (height, width))), alpha.clamp(0, 1)


def part_shares(owners: torch.Tensor, person: torch.Tensor | None = None) -> torch.Tensor:
    """Each arm's and leg's share of each pixel of a quarter-size grid: ``owners [B, H, W]``
    (:func:`part_owners`), weighted by the segmentation's soft edge ``person [B, 1, H, W]`` where given (no rim
    of background goes along) -> ``[B, L, h, w]``. The same for every frame of a clip: made once."""
    height, width = owners.shape[-2:]
    small = (min(height, max(64, height // 4)), min(width, max(64, width // 4)))
    masks = torch.stack([(owners == limb) for limb in range(len(MOVING_LIMBS))], 1).float()  # [B, L, H, W]
    if person is not None:
        masks = masks * person.float()
    return F.adaptive_avg_pool2d(masks, small)


def person_layers(source: torch.Tensor, network_size: int, size: tuple[int, int],
                  person: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What of the photo's person is the same in every frame of a clip (so made once): each arm's and leg's share
    of its pixels (:func:`part_shares` of :func:`part_owners`) and the trunk layer ``[B, 1, H, W]`` (the person's
    own outline without the arms and legs and what goes with them). ``source [B, K, 3]`` in pixels of a
    ``network_size`` frame; ``person [B, 1, H, W]`` at the picture's ``size``."""
    source = rescale_keypoints(source, size[-1] / network_size)
    small, _, torsos = _mask_frame(source, network_size, size)
    torsos = torsos * size[-1] / small[-1]
    owners = part_owners(source, person, torsos)  # [B, H, W]
    limb_region = limb_mask(seen_only(source.cpu()), size, PLATE_MARGIN * limb_reach(torsos), limbs=MOVING_LIMBS,
                            beyond=LIMB_BEYOND)[:, None].to(person.device, person.dtype)
    parts = (owners >= 0).to(person.dtype)[:, None]
    # Where a limb covered the trunk (an arm at the side, across the chest), the trunk layer shows the clean
    # plate's trunk-filled pixels: the body is there once the limb has moved, not the wall behind it.
    body = trunk_body(source.cpu(), size, float(torsos.max())).to(person.device, person.dtype)
    return part_shares(owners, person), person * (1 - torch.maximum(limb_region * (1 - body), parts))


def grown(mask: torch.Tensor, pixels: float) -> torch.Tensor:
    """``mask [B, 1, H, W]`` (soft) above one half, grown by ``pixels`` (a max-pool): bool, same shape."""
    radius = max(0, round(pixels))
    inside = (mask > 0.5).float()
    if radius:  # a square's max as a row's then a column's: 2k reads a pixel, not k * k
        inside = F.max_pool2d(inside, (1, 2 * radius + 1), stride=1, padding=(0, radius))
        inside = F.max_pool2d(inside, (2 * radius + 1, 1), stride=1, padding=(radius, 0))
    return inside > 0.5


def limb_reach(torsos: torch.Tensor) -> torch.Tensor:
    """How far each of ``MOVING_LIMBS`` reaches from its bone, in pixels, for torsos ``[N]``: ``[N, L]``."""
    return torsos[:, None].float() * torch.tensor(LIMB_REACH)[None]


def limbs_that_move(poses: torch.Tensor, torso: float, threshold: float = 0.1) -> tuple[tuple[int, int], ...]:
    """The limbs of ``MOVING_LIMBS`` that move against the neck over a clip ``[T, K, 3]`` (more than
    ``threshold`` torso lengths, at either end, in some frame): a limb that only travels with the body (a
    jump) or stays still keeps its place in the clean plate."""
    relative = poses[:, :, :2] - poses[:, 1:2, :2]  # [T, K, 2] against the neck
    travel = (relative - relative[:1]).norm(dim=-1).amax(0)  # [K]
    seen = (poses[:, :, 2] > FOUND).all(0)
    moves = (travel > threshold * torso) & seen
    return tuple((a, b) for a, b in MOVING_LIMBS if bool(moves[a]) or bool(moves[b]))


def limb_width(torso: float) -> float:
    """How far from its bone an arm or leg reaches, for a torso (neck to hips) of ``torso`` pixels."""
    return 0.2 * torso


@torch.no_grad()
def layered_frame(source: torch.Tensor, target: torch.Tensor, network_size: int, detail: torch.Tensor,
                  plate: torch.Tensor, behind: torch.Tensor | None = None,
                  person: torch.Tensor | None = None, far: torch.Tensor | None = None,
                  parts: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """The target pose drawn from the photo itself, in layers, at ``detail``'s size ``[B, 3, H, W]``.

    On a real photo the network, trained on synthetic people at its own small size, paints colours and
    blur the photo never had; the warp, which works from keypoints at any resolution, does not. So, from
    front to back:

    1. the arms and legs of the target pose, from ``detail`` through the limb warp (masks as wide as limbs,
       :data:`LIMB_REACH`, around the target's bones);
    2. the rest of the person (trunk, head, hair, clothes: :func:`person_silhouette`) from ``plate`` (the
       photo without the limbs that move), moved rigidly as the trunk moves (the similarity that takes the
       source's neck and hip centre to the target's), the head with it;
    3. the background: ``plate`` with the person filled in from around them (``behind``, from
       :func:`behind_the_person`: the same for every frame of a clip, so computed once), seen only where the
       trunk moved away (a jump, a squat).

    :param source: ``[B, K, 3]`` the photo's pose, ``target`` the pose to draw, in pixels of a
        ``network_size`` frame; ``detail``, ``plate``, ``behind``: ``[B, 3, H, W]`` in [-1, 1].
    :param person: the photo person's segmentation ``[B, 1, H, W]`` where known: the trunk layer is then the
        person's own outline (hair, clothes) moved with the trunk, and the background fills all of them.
    :param far: ``[B, L]`` bool over :data:`MOVING_LIMBS`: limbs drawn behind the trunk (a side view's far arm,
        inferred from its twin: :func:`far_limbs`); the others are in front of it.
    :param parts: :func:`person_layers` of ``source`` and ``person``, where already made (once per clip).
    """
    if person is not None and parts is None:
        parts = person_layers(source, network_size, tuple(detail.shape[-2:]), person)
    if behind is None:
        behind = behind_the_person(source, network_size, plate, person)
    factor = detail.shape[-1] / network_size
    source, target = rescale_keypoints(source, factor), rescale_keypoints(target, factor)
    # The head moves with the trunk, rigidly: its keypoints are a few pixels apart, and the warp's stretch
    # between two of them (a nose nearer an eye in a generated pose) would stretch the face and hair.
    target = trunk_following(source, target, HEAD_JOINTS)
    size = tuple(detail.shape[-2:])
    small, source_small, torsos = _mask_frame(source, network_size, size)
    target_small = rescale_keypoints(target, small[-1] / size[-1]).cpu()
    reach = limb_reach(torsos)  # [B, L]
    far = torch.zeros(reach.shape, dtype=torch.bool) if far is None else far.cpu()
    tiny = torch.full_like(reach, 1e-3)  # a limb left out of a mask: no width
    limbs = limb_mask(target_small, small, torch.where(far, tiny, reach), limbs=MOVING_LIMBS, beyond=LIMB_BEYOND)
    behind_limbs = limb_mask(target_small, small, torch.where(far, reach, tiny), limbs=MOVING_LIMBS,
                             beyond=LIMB_BEYOND)
    limbs, behind_limbs = (F.interpolate(m[:, None], size=size, mode="bilinear", align_corners=False)
                           .to(detail.device, detail.dtype) for m in (limbs, behind_limbs))
    trunk_moved = trunk_grid(source, target, size)  # [B, H, W, 2]
    limb_moved = detail_grid(source, target, network_size, size)  # [B, H, W, 2]
    if person is not None:
        # The trunk layer is the person's own outline without the arms and legs (and what goes with them: a
        # hand, a sleeve), moved with the trunk; what goes with each limb is carried rigidly by its bone
        # (through the limb warp instead it was measured worse: on Pose2Sim's cam04, SSIM 0.803 against 0.823
        # and ghost L1 0.229 against 0.135 — the warp blends neighbouring limbs' motions away from the bones).
        shares, trunk_layer = parts
        here = warp_image(trunk_layer.to(detail.dtype), trunk_moved).clamp(0, 1)
    else:  # the silhouette of the keypoints, its soft outer half fading into the background
        here = person_silhouette(trunk_following(source_small, target_small), small, torsos)
        here = F.interpolate(here[:, None], size=size, mode="bilinear", align_corners=False)
        here = (2 * here.to(detail.device, detail.dtype)).clamp(max=1)
    limb_layer = warp_image(detail, limb_moved)
    if bool(far.any()):  # far limbs between the background and the trunk, drawn from their twins' pixels
        far_moved = detail_grid(twin_sourced(source, far.to(source.device)), target, network_size, size)
        behind = behind_limbs * warp_image(detail, far_moved) + (1 - behind_limbs) * behind
    body = here * warp_image(plate, trunk_moved) + (1 - here) * behind
    if person is not None:  # what goes with each limb, carried rigidly by its bone, over the trunk
        part_layer, part_alpha = rigid_parts(source, target, shares, detail)
        body = part_alpha * part_layer + (1 - part_alpha) * body
        # The limb warp's band is as wide as a clothed limb: of a bare arm it would carry the wall beside it
        # too. Only the person's own pixels go (the segmentation carried by the same warp).
        limbs = limbs * warp_image(person.to(detail.dtype), limb_moved).clamp(0, 1)
    return (limbs * limb_layer + (1 - limbs) * body).clamp(-1, 1)


def twin_sourced(source: torch.Tensor, far: torch.Tensor) -> torch.Tensor:
    """``source [B, K, 3]`` with the joints of its far limbs (``far [B, L]`` over :data:`MOVING_LIMBS`) put where
    their twins' are: warped from there, an inferred limb carries its twin's look (a hand hidden in front of
    the belly would otherwise carry the back and the shorts it was inferred over)."""
    moved = torch.zeros(source.shape[:2], dtype=torch.bool, device=source.device)  # [B, K]: a far limb's joints
    for limb, (a, b) in enumerate(MOVING_LIMBS):
        moved[:, a] |= far[:, limb]
        moved[:, b] |= far[:, limb]
    twins = source[:, list(BODY_18.flip_permutation)]  # [B, K, 3]: each joint's left/right twin
    out = source.clone()
    out[..., :2] = torch.where(moved[..., None], twins[..., :2], source[..., :2])
    return out


def far_joints(source: torch.Tensor) -> torch.Tensor:
    """The joints of poses ``[B, K, 3]`` inferred, not seen (confidence between ``FOUND`` and ``SURE``: ``pgvg
    animate`` infers a side view's far arm, or a hand hidden behind the body, from its twin) -> ``[B, K]`` bool."""
    confidence = source[..., 2].float()
    return (confidence > FOUND) & (confidence < SURE)


def seen_only(keypoints: torch.Tensor) -> torch.Tensor:
    """Poses ``[B, K, 3]`` without their inferred joints (:func:`far_joints`, confidence set to 0): a hidden
    limb has no pixels of its own in the photo, so its bones neither own pixels nor cut the trunk layer."""
    out = keypoints.clone()
    out[..., 2] = torch.where(far_joints(keypoints), torch.zeros_like(out[..., 2]), out[..., 2])
    return out


def far_limbs(source: torch.Tensor) -> torch.Tensor:
    """Which of :data:`MOVING_LIMBS` of poses ``[B, K, 3]`` go behind the body: those with a joint inferred, not
    seen (:func:`far_joints`) -> ``[B, L]`` bool."""
    inferred = far_joints(source)  # [B, K]
    return torch.stack([inferred[:, a] | inferred[:, b] for a, b in MOVING_LIMBS], dim=1)


def _mask_frame(source: torch.Tensor, network_size: int,
                size: tuple[int, int]) -> tuple[tuple[int, int], torch.Tensor, torch.Tensor]:
    """Where the masks of a ``size`` picture are drawn (smooth: at up to twice the network's size, then
    interpolated, 16x less work at 512 px): that size, ``source [B, K, 3]`` (pixels of ``size``) in its
    pixels, and the source's torso lengths ``[B]`` there."""
    small = grid_size_for(size, network_size)
    source_small = rescale_keypoints(source, small[-1] / size[-1]).cpu()
    torsos = torch.tensor([t[0] if t else 0.25 * small[0] for t in map(torso_and_hips, source_small.numpy())])
    return small, source_small, torsos


@torch.no_grad()
def behind_the_person(source: torch.Tensor, network_size: int, plate: torch.Tensor,
                      person: torch.Tensor | None = None) -> torch.Tensor:
    """``plate [B, 3, H, W]`` with the person of pose ``source`` (``[B, K, 3]`` in pixels of a ``network_size``
    frame) filled in from around them: what shows where the trunk moves away. The person is where their
    segmentation ``person [B, 1, H, W]`` is (grown), if given, else their keypoints' silhouette."""
    size = tuple(plate.shape[-2:])
    factor = size[-1] / network_size
    small, source_small, torsos = _mask_frame(rescale_keypoints(source, factor), network_size, size)
    if person is not None:  # the segmentation, grown over its soft edge: the rest is the background itself
        torso = float(torsos.max()) * size[-1] / small[-1]
        was = grown(person.to(plate.device), torso * PERSON_GROW)  # [B, 1, H, W]
    else:
        was = F.interpolate(person_silhouette(source_small, small, torsos)[:, None], size=size, mode="bilinear",
                            align_corners=False).to(plate.device, plate.dtype) > 0.5  # [B, 1, H, W]
    return textured_fill(plate, was.to(plate.dtype))


def trunk_grid(source: torch.Tensor, target: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The sampling grid ``[B, H, W, 2]`` that moves a whole image as the trunk moved from ``source`` to
    ``target`` (``[B, K, 3]`` in its pixels): the similarity taking the target's neck and hip centre to the
    source's, at every pixel."""
    target_neck, source_neck, ratio = _trunk_similarity(target, source)  # target pixels -> source pixels
    pixels = pixel_centres(size, source.device)  # [1, H, W]
    sampled = source_neck[:, None, None] + (pixels - target_neck[:, None, None]) * ratio[:, None, None]
    return sampling_grid(sampled, size)


def _trunk_anchors(pose: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The neck and the hip centre of poses ``[B, K, 3]`` as complex numbers ``[B]`` each."""
    pose = pose.float()
    neck = torch.complex(pose[:, 1, 0], pose[:, 1, 1])
    hips = (pose[:, KEYPOINT_INDEX["right_hip"], :2] + pose[:, KEYPOINT_INDEX["left_hip"], :2]) / 2
    return neck, torch.complex(hips[:, 0], hips[:, 1])


def _trunk_similarity(start: torch.Tensor, end: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The similarity that takes pose ``start``'s neck and hip centre to ``end``'s (``[B, K, 3]`` each): a point
    ``p`` goes to ``end_neck + (p - start_neck) * ratio``; returns ``(start_neck, end_neck, ratio)``, complex
    ``[B]`` each (ratio 1 where a trunk is missing or has no length)."""
    (start_neck, start_hips), (end_neck, end_hips) = _trunk_anchors(start), _trunk_anchors(end)
    ratio = (end_hips - end_neck) / (start_hips - start_neck)  # rotation and scale
    ratio = torch.where(ratio.abs().isfinite() & (ratio.abs() > 0), ratio, torch.ones_like(ratio))
    return start_neck, end_neck, ratio


LIMB_JOINTS = ("right_elbow", "right_wrist", "left_elbow", "left_wrist",
               "right_knee", "right_ankle", "left_knee", "left_ankle")
HEAD_JOINTS = ("nose", "right_eye", "left_eye", "right_ear", "left_ear")


def trunk_following(source: torch.Tensor, target: torch.Tensor,
                    joints: tuple[str, ...] = LIMB_JOINTS) -> torch.Tensor:
    """``target [B, K, 3]`` with ``joints`` (by default the arms' and legs': elbows, wrists, knees, ankles) put
    back where the source's are, moved as the trunk moved (the similarity that takes the source's neck and hip
    centre to the target's): the pose the background and the trunk follow, without the limbs' own motion."""
    source_neck, target_neck, ratio = _trunk_similarity(source, target)
    out = target.clone()
    for joint in joints:
        k = KEYPOINT_INDEX[joint]
        point = torch.complex(source[:, k, 0].float(), source[:, k, 1].float())
        moved = target_neck + (point - source_neck) * ratio
        out[:, k, 0], out[:, k, 1], out[:, k, 2] = moved.real.to(out.dtype), moved.imag.to(out.dtype), source[:, k, 2]
    return out


def target_limbs(keypoints: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Where the arms and legs of poses ``[B, K, 3]`` (pixels) are: ``[B, H, W]`` in [0, 1]."""
    torsos = [torso_and_hips(k) for k in keypoints.detach().cpu().numpy()]
    widths = torch.tensor([limb_width(t[0]) if t else 0.05 * size[0] for t in torsos])
    return limb_mask(keypoints.cpu(), size, widths, limbs=MOVING_LIMBS).to(keypoints.device)
