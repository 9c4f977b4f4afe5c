"""Training speed of PSGAN and SCGAN: pgvg's trainer per setting against a plain reference loop, with MFU.

    python benchmarks/bench_train.py [--device cpu|cuda] [--resolutions 64 128] [--settings ...]

The reference trains the same networks (built from the same experiment file, same initial weights, same loss
terms and augmentations; torch's own instance norms, as pix2pix's) with a loop written here the way
pytorch-CycleGAN-and-pix2pix writes one: fp32, eager, ``set_requires_grad``, one optimiser per network,
``backward()`` then ``step()``. pgvg's rows are
:meth:`pgvg_core.training.trainer.Trainer.fit` itself (data loading, per-sample random streams and logging included),
timed from the end of its warm-up steps to its last step by a callback.

MFU: the FLOPs of one training step (``torch.utils.flop_counter``, forward and backward) times steps/s, over the
matrix-multiply FLOP/s of this device measured in the same run, in the step's compute dtype (a bf16 row over
the bf16 matmul peak). ``speedup`` is a row's steps/s over the reference's for the same experiment and
resolution. Prints a table and, as its last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parents[1]

#: name -> (experiment file, overrides): the stage as the demo and the leaderboards train it.
EXPERIMENTS = {
    "psgan": ("psgan.toml", ()),  # the paper's heatmap networks (3D convolutions): resolution matters
    # No LPIPS term, as the demo trains it; no warm start of the pose refiner (it comes before the first step).
    "scgan": ("scgan.toml", ("losses.perceptual.weight=0", "objective.params.refiner_warmup=0")),
}

#: pgvg's settings: name -> trainer overrides (anything not named keeps the experiment's own value).
SETTINGS = {
    "fp32": ("trainer.precision=fp32", "trainer.channels_last=false", "trainer.compile=false"),
    "fp32+channels_last": ("trainer.precision=fp32", "trainer.channels_last=true", "trainer.compile=false"),
    "bf16": ("trainer.precision=bf16", "trainer.channels_last=false", "trainer.compile=false"),
    "bf16+channels_last": ("trainer.precision=bf16", "trainer.channels_last=true", "trainer.compile=false"),
    "compile": ("trainer.precision=fp32", "trainer.channels_last=true", "trainer.compile=true"),
}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def experiment_config(name: str, resolution: int, device: str, batch: int, extra: tuple[str, ...] = ()):
    from pgvg_core.config import load_config

    experiment, overrides = EXPERIMENTS[name]
    return load_config(ROOT / "experiments" / experiment,
                       (*overrides, f"data.params.resolution={resolution}", f"trainer.device={device}",
                        f"trainer.batch_size={batch}", "metrics=[]", "trainer.eval_clips=1",
                        "trainer.log_every=1000000", "trainer.sample_every=1000000",
                        "trainer.checkpoint_every=1000000", *extra))


# ------------------------------------------------------------------------------------------- reference


def set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for parameter in net.parameters():
            parameter.requires_grad = flag


def plain_heatmaps(keypoints: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Keypoints ``[..., K, 3]`` -> Gaussian heatmaps ``[..., K, size, size]`` the way pose-transfer code draws
    them (``exp`` over the whole grid, as Pose-Transfer's ``cords_to_map``), missing joints 0."""
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                            indexing="ij")
    x, y = keypoints[..., 0, None, None], keypoints[..., 1, None, None]
    maps = torch.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma**2))
    return maps * (keypoints[..., 2, None, None] > 0)


class GANLoss:
    """pix2pix's GANLoss for ``lsgan``: MSE against a target tensor of ones or zeros."""

    def __call__(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.ones_like(prediction) if target_is_real else torch.zeros_like(prediction)
        return F.mse_loss(prediction, target)


def with_torch_instance_norms(net: torch.nn.Module) -> torch.nn.Module:
    """``net`` with torch's own instance norms, as pix2pix's networks have, in place of pgvg's (the same
    statistics and parameters, computed as a per-channel group norm that keeps a channels-last layout)."""
    from pgvg_core.blocks import InstanceNorm2d, InstanceNorm3d

    for module in net.modules():
        if isinstance(module, InstanceNorm2d):
            module.__class__ = torch.nn.InstanceNorm2d
        elif isinstance(module, InstanceNorm3d):
            module.__class__ = torch.nn.InstanceNorm3d
    return net


class ReferenceLoop:
    """The same networks and terms as pgvg's objective, trained plainly: fp32, eager, no tricks."""

    def __init__(self, config) -> None:
        from pgvg_core.training.experiment import Experiment

        self.experiment = Experiment.build(config, device=torch.device(config.trainer.device))
        self.nets = self.experiment.nets
        for net in self.nets.values():
            with_torch_instance_norms(net)
        self.device = self.experiment.device
        self.objective = self.experiment.objective
        weights = {name: term.weight for name, term in config.losses.items()}
        self.weights = {**{k: v.weight for k, v in self.objective.default_terms.items()}, **weights}
        self.optimizers = {
            role: torch.optim.Adam(self.nets[role].parameters(), lr=spec.lr, betas=spec.betas)
            for kind in ("generators", "discriminators") for role, spec in getattr(config, kind).items()
        }
        self.gan = GANLoss()
        self.l1 = torch.nn.L1Loss()

    def step(self, batch: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError


class ReferenceSCGAN(ReferenceLoop):
    """SCGAN's step: G1 on the true pose, G2 on an abnormal one; D1 (pose), D2 (image), D_which; L1 terms."""

    def step(self, raw: dict[str, torch.Tensor]) -> None:
        nets, w, objective = self.nets, self.weights, self.objective
        frames = raw["frames"].to(self.device)  # [B, T, 3, H, W]
        keypoints = raw["keypoints"].to(self.device)  # [B, T, K, 3]
        rows = torch.arange(len(frames))
        target = torch.randint(1, frames.shape[1], (len(frames),))
        source, real = frames[:, 0], frames[rows, target]
        heat = lambda k: plain_heatmaps(k, frames.shape[-1], objective.sigma)  # noqa: E731
        source_pose, pose = heat(keypoints[:, 0]), heat(keypoints[rows, target])
        corrupt = objective.augmentations["abnormal_pose"]
        abnormal = corrupt.apply(keypoints[rows, target][:, None], corrupt.sample(keypoints[:, :1].shape))[:, 0]
        abnormal_pose = heat(abnormal)
        augment = objective.augmentations["discriminator"]

        def d(name, frame, condition, params):
            frame = augment.apply(frame, params)
            condition = augment.apply(condition, params, pose_channels=condition.shape[1] != 3)
            return nets[name](frame, condition)

        fake1, f1 = nets["g1"](source, source_pose, pose, return_features=True)
        fake2, f2 = nets["g2"](source, source_pose, abnormal_pose, return_features=True)
        # D step
        discriminators = [nets["d1"], nets["d2"], nets["d_which"]]
        set_requires_grad(discriminators, True)
        for role in ("d1", "d2", "d_which"):
            self.optimizers[role].zero_grad()
        params = augment.sample(real.shape)
        loss_d = 0
        for name, condition in (("d1", pose), ("d2", source)):
            loss_d = loss_d + self.gan(d(name, real, condition, params), True)
            for fake in (fake1, fake2):
                loss_d = loss_d + 0.5 * self.gan(d(name, fake.detach(), condition, params), False)
        loss_d = w["adversarial"] * loss_d / 4
        loss_d = loss_d + w["which"] * 0.5 * (self.gan(d("d_which", fake1.detach(), pose, params), True)
                                              + self.gan(d("d_which", fake2.detach(), pose, params), False))
        loss_d.backward()
        for role in ("d1", "d2", "d_which"):
            self.optimizers[role].step()
        # G step
        set_requires_grad(discriminators, False)
        for role in ("g1", "g2"):
            self.optimizers[role].zero_grad()
        params = augment.sample(real.shape)
        loss_g = 0
        for name, condition in (("d1", pose), ("d2", source)):
            for fake in (fake1, fake2):
                loss_g = loss_g + self.gan(d(name, fake, condition, params), True)
        loss_g = w["adversarial"] * loss_g / 2
        loss_g = loss_g + w["which"] * self.gan(d("d_which", fake2, pose, params), True)
        loss_g = loss_g + w["reconstruction"] * (self.l1(fake1, real) + self.l1(fake2, real))
        loss_g = loss_g + w["consistency"] * self.l1(f2, f1.detach())
        loss_g = loss_g + w["pose"] * self.pose_term(keypoints)
        loss_g.backward()
        for role in ("g1", "g2"):
            self.optimizers[role].step()

    def pose_term(self, keypoints: torch.Tensor) -> torch.Tensor:
        """G2's pose refiner on abnormal versions of frames 1.. against the truth, in body sizes."""
        from pgvg_core.poses.keypoints import body_size

        truth = keypoints[:, 1:]
        corrupt = self.objective.augmentations["abnormal_pose"]
        abnormal = corrupt.apply(truth, corrupt.sample(truth.shape))[..., :3]
        source = keypoints[:, :1].expand_as(truth)
        refined = self.nets["g2"].pose_refiner(source.flatten(0, 1), abnormal.flatten(0, 1))
        truth = truth.flatten(0, 1)
        seen = truth[..., 2:] > 0
        size = body_size(truth).clamp(min=1.0)[:, None, None]
        return self.l1(refined[..., :2] * seen / size, truth[..., :2] * seen / size)


class ReferencePSGAN(ReferenceLoop):
    """The paper's PSGAN step: G(first pose heatmaps, class) -> sequence; 3D PatchGAN; weighted heatmap L1."""

    def step(self, raw: dict[str, torch.Tensor]) -> None:
        nets, w, objective = self.nets, self.weights, self.objective
        joints = objective.to_heatmap_pixels(raw["keypoints"].to(self.device))  # [B, T, K, 3]
        label = raw["label"].to(self.device)
        sequence = plain_heatmaps(joints, objective.heatmap_resolution, objective.sigma)  # [B, T, K, h, w]
        sequence = sequence.transpose(1, 2)  # [B, K, T, h, w]
        first = sequence[:, :, 0]
        generator, discriminator = nets["generator"], nets["discriminator"]
        fake = generator(first, label)
        set_requires_grad([discriminator], True)
        self.optimizers["discriminator"].zero_grad()
        loss_d = 0.5 * (self.gan(discriminator(sequence, label), True)
                        + self.gan(discriminator(fake.detach(), label), False))
        (w["adversarial"] * loss_d).backward()
        self.optimizers["discriminator"].step()
        set_requires_grad([discriminator], False)
        self.optimizers["generator"].zero_grad()
        weight = 1.0 + 10.0 * sequence  # heatmap-l1: joint pixels weigh more than the empty background
        reconstruction = (weight * (fake - sequence).abs()).sum() / weight.sum()
        loss_g = w["adversarial"] * self.gan(discriminator(fake, label), True) + w["reconstruction"] * reconstruction
        loss_g.backward()
        self.optimizers["generator"].step()


REFERENCES = {"psgan": ReferencePSGAN, "scgan": ReferenceSCGAN}


# ------------------------------------------------------------------------------------------------ timing


def batches(dataset, batch: int, seed: int = 0):
    """The reference's data: shuffled batches from a plain DataLoader, as pix2pix's loop gets them."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(seed))
    while True:
        yield from loader


def reference_rate(name: str, resolution: int, device: str, batch: int, steps: int, warmup: int,
                   budget: float) -> tuple[float, int]:
    """Steps/s of the plain loop, and the steps it timed (fewer than ``steps`` where ``budget`` s ran out)."""
    config = experiment_config(name, resolution, device, batch)
    loop = REFERENCES[name](config)
    torch.manual_seed(0)
    data = batches(loop.experiment.dataset, batch)
    for _ in range(warmup):
        loop.step(next(data))
    synchronize(loop.device)
    started, done = time.perf_counter(), 0
    while done < steps and (done < 2 or time.perf_counter() - started < budget):
        loop.step(next(data))
        done += 1
    synchronize(loop.device)
    return done / (time.perf_counter() - started), done


class StepClock:
    """A trainer callback: the time from the end of the warm-up steps to the end of the last step."""

    name = "bench-clock"

    def __init__(self, warmup: int, steps: int, budget: float) -> None:
        self.warmup, self.steps, self.budget = warmup, steps, budget
        self.started: float | None = None
        self.timed = 0
        self.seconds = 0.0

    def start(self, trainer) -> None:
        pass

    def after_step(self, trainer, logged) -> None:
        synchronize(trainer.device)
        now = time.perf_counter()
        if trainer.step == self.warmup:
            self.started = now
        elif self.started is not None:
            self.timed = trainer.step - self.warmup
            self.seconds = now - self.started
            if self.timed >= 2 and self.seconds > self.budget:
                raise _OutOfBudget

    def end(self, trainer) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state) -> None:
        pass


class _OutOfBudget(Exception):
    """Stops a timed run early (the steps timed so far are kept)."""


def trainer_rate(name: str, resolution: int, device: str, batch: int, setting: str, steps: int, warmup: int,
                 budget: float) -> dict[str, Any]:
    """pgvg's ``Trainer.fit`` under ``setting``: steps/s, steps timed, FLOPs of one step, compute dtype."""
    from pgvg_core.training.trainer import Trainer

    config = experiment_config(name, resolution, device, batch,
                               (*SETTINGS[setting], f"trainer.steps={warmup + steps}"))
    clock = StepClock(warmup, steps, budget)
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(config, Path(folder) / "run", progress=False, callbacks=[clock])
        raw = torch.utils.data.default_collate([trainer.dataset[i] for i in range(batch)])
        with FlopCounterMode(display=False) as counter:
            trainer.train_step(raw)  # counted once, outside the timed run (a compiled step counts eagerly)
        try:
            trainer.fit()
        except _OutOfBudget:
            pass
        return {"steps_per_s": clock.timed / clock.seconds, "timed_steps": clock.timed,
                "flops_per_step": counter.get_total_flops(), "precision": trainer.precision,
                "channels_last": config.trainer.channels_last, "compile": config.trainer.compile}


def reference_flops(name: str, resolution: int, device: str, batch: int) -> int:
    config = experiment_config(name, resolution, device, batch)
    loop = REFERENCES[name](config)
    raw = torch.utils.data.default_collate([loop.experiment.dataset[i] for i in range(batch)])
    with FlopCounterMode(display=False) as counter:
        loop.step(raw)
    return counter.get_total_flops()


def cpu_has_bf16_instructions() -> bool:
    """Whether this CPU computes bf16 itself (AVX512-BF16 or AMX-BF16, from /proc/cpuinfo's flags); False where
    the flags cannot be read (not Linux)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--experiments", nargs="+", default=list(EXPERIMENTS), choices=list(EXPERIMENTS))
    parser.add_argument("--resolutions", nargs="+", type=int, default=[64, 128])
    parser.add_argument("--settings", nargs="+", default=None, choices=list(SETTINGS),
                        help="fp32 is pgvg's default; bf16+channels_last and compile on request (compiling takes "
                             "minutes on a small CPU)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per row (at most)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per row: stop timing after")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from pgvg_core.training.devices import matmul_flops_per_second
    from pgvg_core.training.trainer import TrainingError

    device = torch.device(args.device)
    emulated = device.type == "cpu" and not cpu_has_bf16_instructions()
    if args.settings is None:  # the defaults: a bf16 row only where bf16 is more than an emulation
        args.settings = ["fp32", "fp32+channels_last"] + ([] if emulated else ["bf16"])
    if emulated:
        print("this CPU has no bf16 instructions (no avx512_bf16 or amx_bf16 among its flags): bf16 would be "
              "emulated, and a bf16 row would say nothing of bf16"
              + ("; measured anyway, as asked" if any(s.startswith("bf16") for s in args.settings)
                 else "; no bf16 row (ask with --settings bf16)"), flush=True)
    machine = (torch.cuda.get_device_name(device) if device.type == "cuda"
               else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    peaks = {name: matmul_flops_per_second(dtype, device=device, size=2048, repeats=10)
             for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16))}
    print(f"{machine}; matmul peak fp32 {peaks['fp32'] / 1e9:.0f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.0f} GFLOP/s",
          flush=True)
    print(f"{'experiment':10s} {'res':>4s} {'setting':20s} {'steps/s':>8s} {'speedup':>8s} {'GFLOP/step':>10s} "
          f"{'MFU':>6s}", flush=True)
    rows = []
    for name in args.experiments:
        for resolution in args.resolutions:
            rate, timed = reference_rate(name, resolution, args.device, args.batch, args.steps, args.warmup,
                                         args.budget)
            flops = reference_flops(name, resolution, args.device, args.batch)
            results = [{"setting": "reference", "steps_per_s": rate, "timed_steps": timed, "flops_per_step": flops,
                        "precision": "fp32", "channels_last": False, "compile": False}]
            for setting in args.settings:
                try:
                    results.append({"setting": setting, **trainer_rate(name, resolution, args.device, args.batch,
                                                                        setting, args.steps, args.warmup, args.budget)})
                except TrainingError as error:  # a loss that is not finite: said in the table, the rest goes on
                    print(f"{name:10s} {resolution:4d} {setting:20s} failed: {error}", flush=True)
            for result in results:
                achieved = result["flops_per_step"] * result["steps_per_s"]
                row = {"experiment": name, "resolution": resolution, **result,
                       "speedup": round(result["steps_per_s"] / rate, 3),
                       "gflop_per_step": round(result["flops_per_step"] / 1e9, 2),
                       "mfu": round(achieved / peaks["bf16" if result["precision"] == "bf16" else "fp32"], 4)}
                row["steps_per_s"] = round(row["steps_per_s"], 3)
                rows.append(row)
                print(f"{name:10s} {resolution:4d} {row['setting']:20s} {row['steps_per_s']:8.3f} "
                      f"{row['speedup']:7.2f}x {row['gflop_per_step']:10.1f} {row['mfu']:6.1%}", flush=True)
    print(json.dumps({"benchmark": "bench_train", "device": machine, "torch": torch.__version__,
                      "batch": args.batch, "matmul_gflops": {k: round(v / 1e9, 1) for k, v in peaks.items()},
                      "rows": rows}))


if __name__ == "__main__":
    main()
