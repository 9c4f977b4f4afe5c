"""Poses: skeletons (what keypoints are), heatmaps and drawings of keypoints, the pose cache of real clips, and
person- and face-centred framing."""
