"""Tiny experiment configs for fast CPU tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

TINY_PSGAN = """
[experiment]
name = "tiny-psgan"
seed = 7

[data]
name = "synthetic-actions"
params = { resolution = 32, frames = 4, clips = 40, render = false, actions = ["jump", "kick", "wave-right"] }

[trainer]
steps = 4
batch_size = 2
device = "cpu"
log_every = 1
sample_every = 2
checkpoint_every = 2
keep_checkpoints = 2
eval_clips = 6
samples = 2

[objective]
name = "psgan"

[generators.generator]
name = "psgan"
params = { ngf = 4, n_res_blocks = 1, noise_dim = 2 }

[discriminators.discriminator]
name = "psgan-patch3d"
params = { ndf = 4, n_layers = 2 }
"""

TINY_CLASSIFIER = """
[experiment]
name = "tiny-classifier"
seed = 1

[data]
name = "synthetic-actions"
params = { resolution = 32, frames = 8, clips = 96, render = false, actions = ["jump", "kick", "wave-right"] }

[trainer]
steps = 300
batch_size = 16
device = "cpu"
log_every = 50
sample_every = 300
checkpoint_every = 300
eval_clips = 30

[objective]
name = "action-classifier"

[evaluators.classifier]
name = "pose-action-classifier"
params = { width = 32, feature_dim = 16 }
lr = 3e-3
betas = [0.9, 0.999]

[[metrics]]
name = "accuracy"
"""


def write_config(folder: Path, text: str, name: str = "exp.toml") -> Path:
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path

# The data and the trainer of the tiny stage-2 experiments: three steps on 40 small clips.
_TINY_FRAMES_TRAINING = """
[data]
name = "synthetic-actions"
params = { resolution = 32, frames = 4, clips = 40, actions = ["jump", "kick", "wave-right"] }

[trainer]
steps = 3
batch_size = 2
device = "cpu"
log_every = 1
sample_every = 3
checkpoint_every = 3
eval_clips = 4
samples = 2
"""

TINY_SCGAN = """
[experiment]
name = "tiny-scgan"
seed = 3

""" + _TINY_FRAMES_TRAINING + """
[objective]
name = "scgan"
params = { refiner_warmup = 0 }  # tests/scgan/test_objectives.py checks the warm start

[generators.g1]
name = "scgan"
params = { ngf = 4, n_res_blocks = 1 }

[generators.g2]
name = "scgan"
params = { ngf = 4, n_res_blocks = 1, refine_pose = true }

[discriminators.d1]
name = "patchgan"
params = { condition = "pose", ndf = 4, n_layers = 2 }

[discriminators.d2]
name = "patchgan"
params = { condition = "image", ndf = 4, n_layers = 2 }

[discriminators.d_which]
name = "patchgan"
params = { condition = "pose", ndf = 4, n_layers = 2 }

[losses.perceptual]
name = "lpips"
weight = 0.0

[augmentations.abnormal_pose]
name = "abnormal-pose"
params = { severity = 0.5, jitter = false }

[augmentations.discriminator]
name = "diffaugment"

[[metrics]]
name = "ssim"

[[metrics]]
name = "psnr"
"""

TINY_POSE2IMAGE = """
[experiment]
name = "tiny-pose2image"
seed = 3

""" + _TINY_FRAMES_TRAINING + """
[objective]
name = "pose2image"

[generators.generator]
name = "pose2image-unet"
params = { ngf = 4, num_downs = 4 }

[discriminators.d1]
name = "patchgan"
params = { condition = "pose", ndf = 4, n_layers = 2 }

[losses.perceptual]
name = "lpips"
weight = 0.0

[[metrics]]
name = "ssim"
"""

TINY_ESTIMATOR = """
[experiment]
name = "tiny-estimator"
seed = 2

[data]
name = "synthetic-actions"
params = { resolution = 32, frames = 4, clips = 40 }

[trainer]
steps = 30
batch_size = 4
device = "cpu"
log_every = 10
sample_every = 30
checkpoint_every = 30
eval_clips = 8

[objective]
name = "pose-estimator"
params = { frames_per_clip = 2 }

[evaluators.estimator]
name = "pose-estimator"
params = { width = 8, n_res_blocks = 1 }
lr = 5e-4
betas = [0.9, 0.999]

[[metrics]]
name = "pck"
"""
