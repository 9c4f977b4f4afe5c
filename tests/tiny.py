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

[discriminators.classifier]
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
