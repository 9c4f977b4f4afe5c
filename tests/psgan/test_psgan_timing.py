"""PSGAN's ``timing`` term: joint values and steps sorted in time, so an event costs the same whenever it comes."""

import torch
from pgvg_psgan.objective import timeless

T, K = 16, 3


def clip(event_at=None, *, width=2, depth=1.0):
    """``[1, T, K, 2]``: three joints at rest; joint 1 dips by ``depth`` over ``width`` frames from ``event_at``."""
    xy = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]).expand(1, T, K, 2).clone()
    if event_at is not None:
        xy[0, event_at:event_at + width, 1, 1] += depth
    return xy


def timing(fake, real, visible=None):
    visible = torch.ones(*real.shape[:3], 1) if visible is None else visible
    a, b = timeless(fake, real, visible)
    return (a - b).abs().mean().item()


def test_an_event_costs_the_same_whenever_it_happens_and_its_absence_costs():
    early, late = clip(event_at=5), clip(event_at=10)  # both at least 4 frames from either end
    assert (early - late).abs().mean() > 0.01  # frame by frame they differ ...
    assert timing(early, late) < 1e-7  # ... in time-sorted values and steps they do not
    assert timing(clip(), late) > 0.01  # no event at all is not the same
    assert timing(clip(event_at=10, depth=0.5), late) > 0.005  # nor half the event


def test_how_often_a_joint_moves_counts_not_only_how_far():
    """A joint swinging twice over the clip against one flickering every frame between the same two values:
    the same values, different steps over 2 and 4 frames."""
    slow, flicker = clip(), clip()
    t = torch.arange(T)
    slow[0, :, 1, 1] = ((t // 4) % 2).float()  # 0 0 0 0 1 1 1 1 0 ...
    flicker[0, :, 1, 1] = (t % 2).float()  # 0 1 0 1 ...
    assert torch.equal(slow[..., 1].sort(dim=1).values, flicker[..., 1].sort(dim=1).values)
    assert timing(flicker, slow) > 0.05
    shifted = clip()
    shifted[0, :, 1, 1] = (((t + 2) // 4) % 2).float()  # the same swing, another phase
    assert timing(shifted, slow) < 0.5 * timing(flicker, slow)


def test_the_whole_skeleton_drifting_costs_nothing_and_hidden_joints_nothing():
    still = clip(event_at=5)
    drifting = still + torch.linspace(0, 3, T)[None, :, None, None]  # every joint slides together
    assert timing(drifting, still) < 1e-6
    visible = torch.ones(1, T, K, 1)
    visible[:, :, 2] = 0  # joint 2 unseen in the true clip
    moved = still.clone()
    moved[0, :, 2] += torch.randn(T, 2)
    # the centre is over visible joints only, and an unseen joint is masked out of both clips
    assert timing(moved, still, visible) < 1e-6
    assert timing(moved, still) > 0.01
