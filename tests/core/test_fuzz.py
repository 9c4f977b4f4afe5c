"""Fuzzing the inputs users write by hand: config files, ``--set`` overrides, keypoint files. Whatever they
hold, nothing escapes but pgvg's own errors (which the CLI prints with the file and key, exit 2)."""

import io
import json
import tomllib

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pgvg_poses.formats import load_keypoints, load_people

from pgvg_core.config import config_from_dict, parse_override
from pgvg_core.errors import PgvgError
from registries import RegistryError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12))
keys = st.sampled_from(["experiment", "data", "trainer", "objective", "generators", "discriminators", "evaluators",
                        "losses", "augmentations", "metrics", "name", "params", "steps", "seed", "lr", "betas",
                        "weight", "g1", "generator", "batch_size", "device", "precision", "typo"])
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=5)), max_leaves=20)
tables = st.dictionaries(keys, values, max_size=8)


def valid_base() -> dict:
    return {"experiment": {"name": "x"}, "data": {"name": "synthetic-actions", "params": {"resolution": 32}},
            "objective": {"name": "psgan"}, "generators": {"generator": {"name": "psgan"}},
            "discriminators": {"discriminator": {"name": "psgan-patch3d"}}}


@SETTINGS
@given(tables)
def test_any_config_table_is_accepted_or_a_config_error(data):
    from pgvg_core.plugins import get_registries

    try:
        config_from_dict(data, file="fuzz.toml", registries=get_registries())
    except (PgvgError, RegistryError):
        pass


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["trainer", "data", "generators", "losses", "objective"]), keys, values),
                max_size=4))
def test_a_valid_config_with_random_changes_is_accepted_or_a_config_error(changes):
    from pgvg_core.plugins import get_registries

    data = valid_base()
    for section, key, value in changes:
        if isinstance(data.get(section), dict):
            data[section][key] = value
        else:
            data[section] = {key: value}
    try:
        config_from_dict(data, file="fuzz.toml", registries=get_registries())
    except (PgvgError, RegistryError):
        pass


@SETTINGS
@given(st.text(max_size=60))
def test_any_override_text_parses_or_is_a_config_error(text):
    try:
        keys_, value = parse_override(text)
    except PgvgError:
        return
    assert keys_ and all(key.strip() for key in keys_)
    tomllib.loads(tomli_w.dumps({"v": value})) if value is not None else None  # a TOML value, or a bare word


json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                     st.text(max_size=5)),
                           lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                   st.dictionaries(st.sampled_from(
                                                       ["people", "pose_keypoints_2d", "annotations", "keypoints",
                                                        "image_id", "x"]), inner, max_size=4)), max_leaves=25)


@SETTINGS
@given(json_values)
def test_any_keypoint_json_loads_or_is_a_data_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("json") / "frame_keypoints.json"
    path.write_text(json.dumps(data))
    for load in (load_keypoints, load_people):
        try:
            points = load(path)
        except PgvgError:
            continue
        assert points.ndim == 3 and points.shape[1:] == (18, 3)


@SETTINGS
@given(st.binary(max_size=300))
def test_any_bytes_as_a_keypoint_file_are_a_data_error(tmp_path_factory, blob):
    folder = tmp_path_factory.mktemp("bytes")
    for name in ("k.npz", "k.json"):
        (folder / name).write_bytes(blob)
        with pytest.raises(PgvgError):
            load_keypoints(folder / name)


@SETTINGS
@given(st.lists(st.integers(1, 20), min_size=1, max_size=4), st.sampled_from(["float32", "float64", "int64", "U3"]))
def test_any_npz_array_loads_with_the_skeletons_shape_or_is_a_data_error(tmp_path_factory, shape, dtype):
    path = tmp_path_factory.mktemp("npz") / "k.npz"
    buffer = io.BytesIO()
    np.savez(buffer, keypoints=np.zeros(shape, dtype=dtype))
    path.write_bytes(buffer.getvalue())
    try:
        points = load_keypoints(path)
    except PgvgError:
        return
    assert points.ndim == 3 and points.shape[1:] == (18, 3) and points.dtype == np.float32
