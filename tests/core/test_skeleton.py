import attrs
import pytest

from pgvg_core import hookimpl
from pgvg_core.objective import DataInfo
from pgvg_core.plugins import load_plugins
from pgvg_core.poses.skeleton import BODY_18, Skeleton, as_skeleton, skeleton_by_name
from registries import RegistryError, UnknownNameError


def tiny(**overrides) -> Skeleton:
    fields = dict(name="tiny", keypoint_names=("top", "left_elbow", "left_hand", "right_elbow", "right_hand"),
                  limbs=((0, 1), (1, 2), (0, 3), (3, 4)),
                  limb_colours=((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)),
                  flip_pairs=(("left_elbow", "right_elbow"), ("left_hand", "right_hand")))
    return Skeleton(**{**fields, **overrides})


def test_a_skeleton_derives_k_flips_and_parents():
    skeleton = tiny()
    assert skeleton.num_keypoints == 5
    assert skeleton.flip_permutation == (0, 3, 4, 1, 2)
    assert skeleton.parents == (-1, 0, 1, 0, 3)
    assert skeleton.bones == ((0, 1), (1, 2), (0, 3), (3, 4))
    assert skeleton.index("right_hand") == 4
    assert skeleton.keypoint_colours == ((255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (255, 255, 0))


def test_limbs_written_child_first_still_grow_a_tree_and_separate_parts_get_their_own_root():
    skeleton = tiny(keypoint_names=("a", "b", "c", "d", "e"), limbs=((1, 0), (2, 1), (3, 4)),
                    limb_colours=((0, 0, 0),) * 3, flip_pairs=())
    assert skeleton.parents == (1, -1, 1, -1, 3)  # root: the first limb's first keypoint; 3 starts its own part
    assert skeleton.flip_permutation == (0, 1, 2, 3, 4)


def test_body_18_flips_as_before():
    names = BODY_18.keypoint_names
    old = tuple(names.index(n.replace("right_", "LEFT_").replace("left_", "right_").replace("LEFT_", "left_"))
                for n in names)  # how pose.py derived FLIP_PERMUTATION before skeletons
    assert BODY_18.flip_permutation == old == (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)
    assert BODY_18.num_keypoints == 18 and len(BODY_18.limbs) == 17


def test_body_18_parent_tree_grows_from_the_neck():
    neck = BODY_18.index("neck")
    assert BODY_18.parents[neck] == -1 and BODY_18.parents.count(-1) == 1
    assert BODY_18.parents[BODY_18.index("left_wrist")] == BODY_18.index("left_elbow")
    assert BODY_18.parents[BODY_18.index("right_ear")] == BODY_18.index("right_eye")
    assert BODY_18.bones == BODY_18.limbs  # OpenPose's limbs already go from the neck outwards


def test_pose_module_keeps_body_18_aliases():
    from pgvg_core.poses import keypoints as pose

    assert pose.KEYPOINT_NAMES == BODY_18.keypoint_names and pose.LIMBS == BODY_18.limbs
    assert pose.LIMB_COLOURS == BODY_18.limb_colours and pose.FLIP_PERMUTATION == BODY_18.flip_permutation
    assert pose.NUM_KEYPOINTS == 18


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"limbs": ((0, 1), (1, 5), (0, 3), (3, 4))}, r"limb 1 \(1, 5\) names a keypoint index out of range: .*5 "),
        ({"limbs": ((0, 1), (1, 1), (0, 3), (3, 4))}, r"joins keypoint 1 to itself"),
        ({"flip_pairs": (("left_hand", "right_hnd"),)}, r"unknown keypoint 'right_hnd'; did you mean 'right_hand'"),
        ({"flip_pairs": (("left_hand", "right_hand"), ("left_hand", "top"))}, r"'left_hand' is in more than one"),
        ({"limb_colours": ((255, 0, 0),)}, r"4 limbs but 1 limb colours"),
        ({"limb_colours": ((255, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 256))}, r"limb colour 3 .* 0..255"),
        ({"keypoint_names": ("top", "top", "a", "b", "c")}, r"keypoint 'top' is named twice"),
        ({"root": "bottom"}, r"root 'bottom' is not one of its keypoints"),
    ],
)
def test_invalid_skeletons_are_refused_with_a_clear_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny(**overrides)


def test_unknown_keypoint_name_suggests_the_closest():
    with pytest.raises(KeyError, match="no keypoint 'left_hnd'; did you mean 'left_hand'"):
        tiny().index("left_hnd")


def test_skeleton_data_round_trips():
    assert Skeleton.from_dict(tiny().as_dict()) == tiny()
    assert Skeleton.from_dict(attrs.asdict(BODY_18)) == BODY_18  # with the derived fields, as a bundle holds it
    with pytest.raises(ValueError, match="unknown keys"):
        Skeleton.from_dict({**tiny().as_dict(), "colour": 1})


def test_body_18_is_registered_and_listed():
    registries = load_plugins().registries
    assert registries["skeletons"].list() == ["body-18", "face-68"]
    assert registries["skeletons"].get("body-18").plugin == "poses"
    assert skeleton_by_name("body-18", registries) is BODY_18
    assert as_skeleton("body-18", registries) is BODY_18


def test_unknown_skeleton_name_suggests_and_lists():
    with pytest.raises(UnknownNameError, match=r"no skeleton 'body18'; did you mean 'body-18'\? available: body-18, face-68"):
        skeleton_by_name("body18", load_plugins().registries)


class _BadSkeletons:
    @hookimpl
    def pgvg_register_skeletons(self, register):
        register("not-one", lambda: "a string")
        register("misnamed", tiny)


def test_a_plugin_skeleton_must_be_a_skeleton_named_as_registered():
    registries = load_plugins(entry_points=[], extra_plugins=[("bad", _BadSkeletons())]).registries
    assert registries["skeletons"].list() == ["misnamed", "not-one"]
    with pytest.raises(RegistryError, match="returned str, not a pgvg_core.poses.skeleton.Skeleton"):
        skeleton_by_name("not-one", registries)
    with pytest.raises(RegistryError, match="is named 'tiny'"):
        skeleton_by_name("misnamed", registries)


def test_list_skeletons_command():
    import json

    from click.testing import CliRunner

    from pgvg_core.cli import main

    rows = json.loads(CliRunner().invoke(main, ["list", "skeletons", "--json"], catch_exceptions=False).output)
    assert [(row["kind"], row["name"], row["plugin"]) for row in rows] == [("skeletons", "body-18", "poses"),
                                                                           ("skeletons", "face-68", "poses")]


def test_data_info_keypoints_come_from_its_skeleton():
    old_style = DataInfo(num_classes=2, classes=("a", "b"), keypoints=18, frames=4, resolution=32)
    assert old_style.skeleton is BODY_18
    small = DataInfo(num_classes=2, classes=("a", "b"), skeleton=tiny(), frames=4, resolution=32)
    assert small.keypoints == 5
    with pytest.raises(ValueError, match="keypoints=18, but its skeleton 'tiny' has 5"):
        DataInfo(num_classes=2, classes=("a", "b"), skeleton=tiny(), keypoints=18, frames=4, resolution=32)
    # A bundle stores attrs.asdict(data) and builds DataInfo(**that) again.
    assert DataInfo(**{**attrs.asdict(small), "classes": ("a", "b")}) == small
    assert DataInfo(num_classes=1, classes=("a",), skeleton="body-18", frames=2, resolution=32).keypoints == 18


def test_face_68_follows_the_ibug_layout():
    from pgvg_core.poses.skeleton import FACE_68

    registries = load_plugins().registries
    assert skeleton_by_name("face-68", registries) is FACE_68 and FACE_68.num_keypoints == 68
    flip = FACE_68.flip_permutation
    # iBUG 1-based pairs, as dlib's and OpenFace's horizontal flips list them (here 0-based)
    for a, b in [(0, 16), (7, 9), (17, 26), (21, 22), (31, 35), (36, 45), (39, 42), (40, 47), (41, 46),
                 (48, 54), (55, 59), (60, 64), (65, 67)]:
        assert flip[a] == b and flip[b] == a
    assert all(flip[k] == k for k in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66))  # the midline stays
    assert FACE_68.index("right_eye_0") == 36 and FACE_68.index("inner_lip_7") == 67
    # eyes and lips are closed contours; the jaw is open
    assert (41, 36) in FACE_68.limbs and (59, 48) in FACE_68.limbs and (16, 0) not in FACE_68.limbs
