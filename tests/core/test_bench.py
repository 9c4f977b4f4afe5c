"""Leaderboard runs: the smoke suite end to end, and what the leaderboard refuses to mix."""

import json
import tomllib

import attrs
import pytest
import torch
from click.testing import CliRunner
from core.test_results import result

from pgvg_core.cli import main
from pgvg_core.errors import PgvgError
from pgvg_core.leaderboard.board import leaderboard, summarise
from pgvg_core.leaderboard.results import ResultsDatabase
from pgvg_core.leaderboard.suites import load_suite


def test_the_smoke_suite_runs_end_to_end_and_a_second_run_adds_no_row(tmp_path):
    args = ["bench", "smoke", "--out", str(tmp_path / "runs"), "--db", str(tmp_path / "db.sqlite"), "--no-progress"]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "[4/4] smoke: pix2pix, seed 1" in first.output and "4 results stored" in first.output
    for method in ("scgan", "pix2pix"):
        for seed in (0, 1):
            assert list((tmp_path / "runs" / "smoke" / method / f"seed-{seed}" / "results").glob("*.json"))
    again = CliRunner().invoke(main, args)  # the trained runs are reused, their results too
    assert again.exit_code == 0, again.output
    assert again.output.count("measured before under this protocol") == 4
    remeasured = CliRunner().invoke(main, [*args, "--remeasure"])  # measured again: the same rows, updated
    assert remeasured.exit_code == 0 and "measured before" not in remeasured.output
    with ResultsDatabase(tmp_path / "db.sqlite") as db:
        rows = db.results("smoke")
    assert len(rows) == 4 and {r.method for r in rows} == {"scgan", "pix2pix"}
    assert all(r.steps == 4 and r.code["pgvg"] and r.hardware["cores"] for r in rows)
    shown = CliRunner().invoke(main, ["leaderboard", "smoke", "--db", str(tmp_path / "db.sqlite"), "--format", "json"])
    board = json.loads(shown.output)["tables"][0]
    assert board["order"][0] == "scgan" and board["best"]["ssim.ssim"] == "scgan"  # sorted by the primary metric
    assert board["methods"]["scgan"]["cells"]["ssim.ssim"]["n"] == 2


def test_results_of_two_protocols_are_never_one_table_and_a_changed_config_is_flagged():
    results = [result(seed=0), result(seed=1, metrics={"ssim": {"ssim": 0.6}}),
               result(method="other", seed=0, config='[experiment]\nname = "a"\n'),
               result(method="other", seed=1, config='[experiment]\nname = "b"\n'),
               result(protocol_hash="q" * 64, method="scgan", metrics={"ssim": {"ssim": 0.1}})]
    board = leaderboard(results)
    assert len(board["tables"]) == 2
    first = next(t for t in board["tables"] if t["protocol_hash"] == "p" * 64)
    assert first["methods"]["scgan"]["cells"]["ssim.ssim"].mean == pytest.approx(0.7)
    assert first["methods"]["other"]["config_differs"] and first["best"]["ssim.ssim"] == "scgan"


def test_seeds_of_one_method_share_a_config_hash():
    one = result(config='[experiment]\nname = "x"\nseed = 0\n')
    assert one.config_hash == attrs.evolve(one, config='[experiment]\nname = "x"\nseed = 5\n').config_hash


def test_the_summary_is_mean_sample_std_and_a_t_interval():
    cell = summarise([1.0, 2.0, 3.0])
    assert cell.mean == 2.0 and cell.std == pytest.approx(1.0) and cell.half_width == pytest.approx(4.3027 / 3 ** 0.5, rel=1e-4)
    assert summarise([5.0]).std == 0.0
    # 12 seeds: t(11) = 2.201 (a table read at the next larger df gave 2.131); 40 seeds: t(39) = 2.023, not 1.96
    twelve = summarise([float(i % 3) for i in range(12)])
    assert twelve.half_width == pytest.approx(2.2010 * twelve.std / 12 ** 0.5, rel=1e-4)
    forty = summarise([float(i % 5) for i in range(40)])
    assert forty.half_width == pytest.approx(2.0227 * forty.std / 40 ** 0.5, rel=1e-4)


def test_suite_errors_say_where(tmp_path):
    with pytest.raises(PgvgError, match="no suite 'nope'.*smoke"):
        load_suite("nope")
    bad = tmp_path / "s.toml"
    bad.write_text('[suite]\nname = "s"\nversion = 1\nprimary = "ssim.ssim"\n[protocol]\ndataset = {name = "x"}\n'
                   'metrics = [{name = "ssim"}]\ncheckpoint = "best"\n[[methods]]\nname = "m"\nconfig = "scgan.toml"\n')
    with pytest.raises(PgvgError, match="protocol.checkpoint': only 'last'"):
        load_suite(str(bad))
    result_ = CliRunner().invoke(main, ["bench", "smoke", "--methods", "gan", "--db", str(tmp_path / "d.sqlite"),
                                        "--out", str(tmp_path / "o")])
    assert result_.exit_code == 2 and "no method gan; its methods: scgan, pix2pix" in result_.output


def test_check_exits_1_when_a_metric_regresses_beyond_the_tolerance(tmp_path):
    db = tmp_path / "db.sqlite"
    with ResultsDatabase(db) as database:
        database.upsert(result(metrics={"ssim": {"ssim": 0.80}}))
    baseline = tmp_path / "baseline.json"
    assert CliRunner().invoke(main, ["leaderboard", "--db", str(db), "--format", "json", "--out", str(baseline)]).exit_code == 0
    with ResultsDatabase(db) as database:
        database.upsert(result(metrics={"ssim": {"ssim": 0.79}}))  # 1.25 % worse
    ok = CliRunner().invoke(main, ["leaderboard", "--db", str(db), "--check", str(baseline)])
    assert ok.exit_code == 0 and "no regression" in ok.output
    with ResultsDatabase(db) as database:
        database.upsert(result(metrics={"ssim": {"ssim": 0.70}}))  # 12.5 % worse
    failed = CliRunner().invoke(main, ["leaderboard", "--db", str(db), "--check", str(baseline)])
    assert failed.exit_code == 1 and "regression: smoke scgan ssim.ssim: 0.7 against 0.8" in failed.output


def test_a_suite_with_a_helper_and_two_splits(tmp_path):
    """A helper (an action classifier) trained once and handed to the pose-action metric; each split measured."""
    from tiny import TINY_CLASSIFIER, TINY_PSGAN, write_config

    write_config(tmp_path, TINY_CLASSIFIER, "classifier.toml")
    write_config(tmp_path, TINY_PSGAN, "psgan.toml")
    suite = tmp_path / "tiny.toml"
    suite.write_text('''
[suite]
name = "tiny-actions"
version = 1
primary = "test/pose-action.accuracy"
columns = ["test/pose-action.accuracy", "unseen-pose/pose-action.accuracy"]
[protocol]
dataset = { name = "synthetic-actions", params = { resolution = 32, frames = 4, clips = 40, render = false, actions = ["jump", "kick", "wave-right"] } }
splits = ["test", "unseen-pose"]
clips = 6
batch_size = 3
seeds = [0]
metrics = [{ name = "pose-action" }]
[[protocol.helpers]]
name = "action-classifier"
config = "classifier.toml"
set = ["trainer.steps=5"]
[[methods]]
name = "psgan"
config = "psgan.toml"
set = ["trainer.steps=2"]
''')
    done = CliRunner().invoke(main, ["bench", str(suite), "--out", str(tmp_path / "runs"), "--db",
                                     str(tmp_path / "db.sqlite"), "--no-progress"])
    assert done.exit_code == 0, done.output
    assert "helper action-classifier" in done.output
    assert (tmp_path / "runs" / "tiny-actions" / "helpers" / "action-classifier" / "checkpoints").is_dir()
    with ResultsDatabase(tmp_path / "db.sqlite") as db:
        (row,) = db.results("tiny-actions")
    assert set(row.metrics) == {"test/pose-action", "unseen-pose/pose-action"}
    assert row.provenance["unseen-pose/pose-action"]["split"] == "unseen-pose"
    assert "helpers/action-classifier" in row.provenance["test/pose-action"]["weights"]
    board = leaderboard([row], load_suite(str(suite)))["tables"][0]
    assert board["columns"] == ["test/pose-action.accuracy", "unseen-pose/pose-action.accuracy"]  # the suite's
    assert board["directions"]["unseen-pose/pose-action.accuracy"] is True


def test_every_suite_of_pgvg_reads_and_names_its_methods_experiments():
    from pgvg_core.config import ComponentSpec, build, load_config
    from pgvg_core.leaderboard.suites import SUITES
    from pgvg_core.plugins import get_registries

    names = sorted(path.stem for path in SUITES.glob("*.toml"))
    assert {"smoke", "psgan-actions", "scgan-robustness", "synthetic-actions-64", "video-folder-template"} <= set(names)
    for name in names:
        suite = load_suite(name)
        assert len(suite.protocol_hash) == 64 and suite.methods
        if "video-folder" not in name:  # the template points at the user's videos
            for method in (*suite.methods, *suite.helpers, *(m.stage1 for m in suite.methods if m.stage1)):
                load_config(method.config, method.overrides)
        for column in suite.columns:  # each column names a metric value that the protocol produces
            where, metric_key = column.rsplit("/", 1) if "/" in column else ("", column)
            metric, key = metric_key.split(".", 1)
            entries = suite.protocol["stage1_metrics" if where.startswith("stage1") else "metrics"]
            assert metric in {entry["name"] for entry in entries}, (name, column)
            assert key in get_registries()["metrics"].get(metric).factory.directions, (name, column)
            parts = set(where.split("/")) - {""}
            known = {"stage1", *(suite.protocol.get("splits") or []), *(p["name"] for p in suite.protocol.get("poses", []))}
            assert parts <= known, (name, column)
        for entry in suite.protocol.get("poses", []):  # every augmentation of the poses builds
            if "augmentation" in entry:
                build("augmentations", ComponentSpec(name=entry["augmentation"]["name"],
                                                     params=entry["augmentation"].get("params", {})))


def test_a_stage2_suite_measures_each_pose_condition_apart(tmp_path):
    """protocol.poses: the true poses, abnormal ones (all kinds; one kind), and a stage-1 helper's poses."""
    from tiny import TINY_ESTIMATOR, TINY_PSGAN, TINY_SCGAN, write_config

    write_config(tmp_path, TINY_PSGAN, "psgan.toml")
    write_config(tmp_path, TINY_SCGAN, "scgan.toml")
    write_config(tmp_path, TINY_ESTIMATOR, "estimator.toml")
    suite = tmp_path / "poses.toml"
    suite.write_text('''
[suite]
name = "tiny-robustness"
version = 1
primary = "abnormal/ssim.ssim"
[protocol]
dataset = { name = "synthetic-actions", params = { resolution = 32, frames = 4, clips = 40, actions = ["jump", "kick", "wave-right"] } }
split = "test"
clips = 4
batch_size = 2
seeds = [0]
metrics = [{ name = "ssim" }, { name = "pck" }]
[[protocol.helpers]]
name = "stage1"
config = "psgan.toml"
set = ["trainer.steps=2"]
[[protocol.helpers]]
name = "pose-estimator"
config = "estimator.toml"
set = ["trainer.steps=2"]
[[protocol.poses]]
name = "true"
[[protocol.poses]]
name = "abnormal"
augmentation = { name = "abnormal-pose", params = { severity = 0.5, jitter = false } }
[[protocol.poses]]
name = "swapped"
augmentation = { name = "abnormal-pose", params = { severity = 1.0, sigma = false, scale = false, shift = false, displace = false, drop = false, swap = true, swap_rate = 1.0, jitter = false } }
[[protocol.poses]]
name = "generated"
model = "stage1"
[[methods]]
name = "scgan"
config = "scgan.toml"
set = ["trainer.steps=2"]
''')
    done = CliRunner().invoke(main, ["bench", str(suite), "--out", str(tmp_path / "runs"), "--db",
                                     str(tmp_path / "db.sqlite"), "--no-progress"])
    assert done.exit_code == 0, done.output
    with ResultsDatabase(tmp_path / "db.sqlite") as db:
        (row,) = db.results("tiny-robustness")
    assert set(row.metrics) == {f"{poses}/{metric}" for poses in ("true", "abnormal", "swapped", "generated")
                                for metric in ("ssim", "pck")}
    ssim = {poses: row.metrics[f"{poses}/ssim"]["ssim"] for poses in ("true", "abnormal", "swapped", "generated")}
    assert len(set(ssim.values())) == 4  # each condition rendered other poses
    assert row.provenance["swapped/ssim"]["poses"] == "swapped"
    # The same frames again: the abnormal poses are one fixed draw, the stage-1 noise comes from the protocol's seed.
    from pgvg_core.leaderboard.runner import measure_run

    loaded = load_suite(str(suite))
    run_dir = tmp_path / "runs" / "tiny-robustness" / "scgan" / "seed-0"
    helpers = tmp_path / "runs" / "tiny-robustness" / "helpers"
    again, _ = measure_run(loaded, run_dir, helpers={name: helpers / name for name in ("stage1", "pose-estimator")})
    assert {k: v["ssim"] for k, v in again.items() if k.endswith("/ssim")} == {f"{p}/ssim": v for p, v in ssim.items()}


def test_pose_conditions_refuse_what_cannot_work(tmp_path):
    from tiny import TINY_PSGAN, write_config

    from pgvg_core.config import load_config
    from pgvg_core.leaderboard.runner import pose_conditions
    from pgvg_core.measure.evaluation import PoseCondition, measure
    from pgvg_core.training.run import load_run
    from pgvg_core.training.trainer import Trainer

    Trainer(load_config(write_config(tmp_path, TINY_PSGAN), ["trainer.steps=1"]), tmp_path / "p", progress=False).fit()
    stage1 = load_run(tmp_path / "p")
    suite = attrs.evolve(load_suite("smoke"), protocol={**load_suite("smoke").protocol,
                                                        "poses": [{"name": "made", "model": "nowhere"}]})
    with pytest.raises(PgvgError, match="model 'nowhere' is not one of the protocol's helpers"):
        pose_conditions(suite, stage1, {}, "cpu")
    with pytest.raises(PgvgError, match="renders no frames from poses"):  # a pose condition on a stage-1 model
        measure(stage1.objective, stage1.nets, None, {}, clips=1, batch_size=1, seed=0,
                device=torch.device("cpu"), poses=PoseCondition(name="true"))
    made = PoseCondition(name="made", stage1=stage1)
    keypoints = torch.rand(2, 6, 18, 3) * 32  # clips of 6 frames; the stage-1 model makes 4
    with pytest.raises(PgvgError, match="makes 4 frames, the protocol's clips have 6"):
        made.poses(keypoints, torch.tensor([0, 1]), classes=stage1.data.classes, resolution=32)
    with pytest.raises(PgvgError, match="does not know the action.*walk"):
        made.poses(keypoints[:, :4], torch.tensor([0, 1]), classes=("walk", "jump"), resolution=32)
    given, target = made.poses(keypoints[:, :4], torch.tensor([0, 1]), classes=stage1.data.classes, resolution=32)
    assert given.shape == (2, 3, 18, 3) and target is given


def test_a_two_stage_method_is_trained_and_measured_end_to_end(tmp_path):
    """[methods.stage1]: its stage 1 trained with the method's seed, measured by stage1_metrics, its poses rendered."""
    from tiny import TINY_CLASSIFIER, TINY_PSGAN, TINY_SCGAN, write_config

    for text, name in ((TINY_PSGAN, "psgan.toml"), (TINY_SCGAN, "scgan.toml"), (TINY_CLASSIFIER, "classifier.toml")):
        write_config(tmp_path, text, name)
    suite = tmp_path / "two.toml"
    suite.write_text('''
[suite]
name = "tiny-two-stage"
version = 1
primary = "generated/ssim.ssim"
[protocol]
dataset = { name = "synthetic-actions", params = { resolution = 32, frames = 4, clips = 40, actions = ["jump", "kick", "wave-right"] } }
split = "test"
clips = 4
batch_size = 2
seeds = [0, 1]
metrics = [{ name = "ssim" }]
stage1_metrics = [{ name = "pose-action" }]
[[protocol.helpers]]
name = "action-classifier"
config = "classifier.toml"
set = ["trainer.steps=2", "data.params.frames=4"]
[[protocol.poses]]
name = "true"
[[protocol.poses]]
name = "generated"
model = "stage1"
[[methods]]
name = "both"
config = "scgan.toml"
set = ["trainer.steps=2"]
stage1 = { config = "psgan.toml", set = ["trainer.steps=2"] }
''')
    done = CliRunner().invoke(main, ["bench", str(suite), "--out", str(tmp_path / "runs"), "--db",
                                     str(tmp_path / "db.sqlite"), "--no-progress"])
    assert done.exit_code == 0, done.output
    folder = tmp_path / "runs" / "tiny-two-stage" / "both"
    assert (folder / "seed-1-stage1" / "checkpoints").is_dir() and (folder / "seed-1" / "checkpoints").is_dir()
    with ResultsDatabase(tmp_path / "db.sqlite") as db:
        rows = sorted(db.results("tiny-two-stage"), key=lambda r: r.seed)
    assert set(rows[0].metrics) == {"true/ssim", "generated/ssim", "stage1/pose-action"}
    assert 0 <= rows[0].metrics["stage1/pose-action"]["accuracy"] <= 1
    assert rows[0].provenance["stage1/pose-action"]["checkpoint_sha256"] != rows[0].checkpoint_sha256
    from pgvg_core.media.files import sha256_of
    from pgvg_core.training import checkpoint

    stage1_sha = sha256_of(checkpoint.latest(folder / "seed-0-stage1"))
    assert rows[0].provenance["stage1"]["checkpoint_sha256"] == stage1_sha  # what the result depends on
    again = CliRunner().invoke(main, ["bench", str(suite), "--out", str(tmp_path / "runs"), "--db",
                                      str(tmp_path / "db.sqlite"), "--no-progress"])
    assert again.exit_code == 0 and again.output.count("measured before under this protocol") == 2
    assert tomllib.loads(rows[0].config)["stage1"]["objective"]["name"] == "psgan"  # part of the method's config
    assert rows[0].config_hash == rows[1].config_hash  # the seeds of a two-stage method still share one config
    board = leaderboard(rows, load_suite(str(suite)))["tables"][0]
    assert not board["methods"]["both"]["config_differs"] and "stage1/pose-action.accuracy" in board["columns"]
