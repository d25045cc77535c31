"""Labels from a prediction: the task's post-processors, and instance IDs that do not depend on
how the volume is cut into blocks (checked against whole-volume computations)."""

import numpy as np
import pytest
from scipy import ndimage

from napari_dacapo.labels import LabelRule, segment
from napari_dacapo.labels.fragments import watershed_fragments


def canonical(labels: np.ndarray) -> np.ndarray:
    """Independent relabelling: each object (non-zero label) is named 1 + the C-order index
    of its first voxel."""
    out = np.zeros(labels.shape, np.uint64)
    flat = labels.ravel()
    for value in np.unique(flat[flat != 0]):
        where = flat == value
        out.ravel()[where] = np.flatnonzero(where)[0] + 1
    return out


def smooth_field(shape, seed, sigma=3):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), sigma).astype(np.float32)


def voronoi(shape, count, seed):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 1, size=(count, len(shape))) * np.array(shape)
    grid = np.indices(shape).reshape(len(shape), -1).T
    nearest = np.argmin(((grid[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return (nearest + 1).reshape(shape)


def affinities_of(segmentation, offsets, noise, seed):
    """1 where x and x + offset are in the same object (0 outside the volume), squeezed to
    [0.05, 0.95] with some noise: what a trained affinities network predicts."""
    rng = np.random.default_rng(seed)
    affs = np.zeros((len(offsets), *segmentation.shape), np.float32)
    for c, offset in enumerate(offsets):
        here = tuple(slice(max(0, -d), s - max(0, d)) for s, d in zip(segmentation.shape, offset, strict=True))
        there = tuple(slice(max(0, d), s - max(0, -d)) for s, d in zip(segmentation.shape, offset, strict=True))
        affs[c][here] = segmentation[here] == segmentation[there]
    return np.clip(affs * 0.9 + 0.05 + rng.normal(0, noise, affs.shape), 0, 1).astype(np.float32)


def same_partition(a, b) -> bool:
    pairs = set(zip(a.ravel().tolist(), b.ravel().tolist(), strict=True))
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize("block", [(256, 256), (16, 16), (7, 13), (1, 90)])
def test_threshold_instances_are_the_whole_image_connected_components(block):
    field = smooth_field((1, 70, 90), seed=0)
    labels = segment(field, LabelRule("threshold", 0.1), block=block)
    whole, count = ndimage.label(field[0] > 0.1)
    assert count > 3
    np.testing.assert_array_equal(labels, canonical(whole))


@pytest.mark.parametrize("block", [(64, 64, 64), (8, 8, 8), (5, 7, 6)])
def test_threshold_instances_in_3d_for_any_block(block):
    field = smooth_field((2, 20, 24, 22), seed=1, sigma=2)
    labels = segment(field, LabelRule("threshold", 0.0, channel=1), block=block)
    whole, _ = ndimage.label(field[1] > 0.0)
    np.testing.assert_array_equal(labels, canonical(whole))


def test_a_region_has_the_full_runs_ids_for_objects_inside_it():
    field = smooth_field((1, 96, 96), seed=2)
    rule = LabelRule("threshold", 0.15)
    full = segment(field, rule, block=(16, 16))
    origin, size = (32, 16), (48, 64)
    box = tuple(slice(o, o + s) for o, s in zip(origin, size, strict=True))
    region = segment(field[(slice(None), *box)], rule, block=(16, 16), origin=origin, full_shape=(96, 96))
    inside = full[box]
    # objects that do not touch the region's border are whole inside it
    border = np.unique(np.concatenate([inside[0], inside[-1], inside[:, 0], inside[:, -1]]))
    whole = ~np.isin(inside, border)
    assert whole.sum() > 50
    np.testing.assert_array_equal(region[whole], inside[whole])


OFFSETS_2D = ((1, 0), (0, 1), (4, 0), (0, 4))


@pytest.mark.parametrize("block", [(256, 256), (16, 16), (11, 23)])
def test_watershed_finds_the_objects_across_blocks(block):
    truth = voronoi((60, 75), 12, seed=3)
    affs = affinities_of(truth, OFFSETS_2D, noise=0.03, seed=4)
    labels = segment(affs, LabelRule("watershed", 0.5, offsets=OFFSETS_2D), block=block)
    assert same_partition(labels, truth)
    assert np.array_equal(labels, canonical(labels))  # IDs: first voxels


def test_watershed_in_one_block_is_the_whole_volume_mutex_watershed():
    truth = voronoi((40, 50), 9, seed=5)
    affs = affinities_of(truth, OFFSETS_2D, noise=0.2, seed=6)  # noisy: the result is not the truth
    affs[:, 10:14, 20:25] = 0.1  # all repulsive: voxels mutex watershed leaves at 0
    import mwatershed

    whole = mwatershed.agglom(affs.astype(np.float64) - 0.5, offsets=[list(o) for o in OFFSETS_2D])
    assert (whole == 0).any()  # mwatershed's background
    labels = segment(affs, LabelRule("watershed", 0.5, offsets=OFFSETS_2D), block=(40, 50))
    assert same_partition(labels, whole)
    np.testing.assert_array_equal(labels == 0, whole == 0)


def test_watershed_ids_do_not_depend_on_the_block_order_or_region():
    truth = voronoi((48, 48, 40), 10, seed=7)
    offsets = ((1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 3))
    affs = affinities_of(truth, offsets, noise=0.05, seed=8)
    rule = LabelRule("watershed", 0.5, offsets=offsets)
    full = segment(affs, rule, block=(16, 16, 16))
    assert same_partition(full, truth)
    again = segment(affs[:, :32], rule, block=(16, 16, 16), full_shape=(48, 48, 40))
    objects_inside = ~np.isin(full[:32], np.unique(full[31]))
    np.testing.assert_array_equal(again[objects_inside], full[:32][objects_inside])


def test_argmax_is_the_strongest_class():
    scores = smooth_field((3, 30, 40), seed=9)
    expected = np.zeros((30, 40), np.uint8)
    for y in range(30):
        for x in range(40):
            expected[y, x] = int(np.argmax(scores[:, y, x]))
    np.testing.assert_array_equal(segment(scores, LabelRule("argmax"), block=(8, 8)), expected)


def test_voxels_the_watershed_joins_to_nothing_are_background():
    affs = np.zeros((2, 4, 5), np.float32)  # every edge repulsive: each voxel alone
    _labels, alone = watershed_fragments(affs, ((1, 0), (0, 1)), 0.5)
    assert alone.all()
    assert not segment(affs, LabelRule("watershed", 0.5, offsets=((1, 0), (0, 1))), block=(2, 2)).any()
    affs[0, 0, 0] = 1  # one attractive edge: one object of two voxels
    labels = segment(affs, LabelRule("watershed", 0.5, offsets=((1, 0), (0, 1))))
    assert labels[0, 0] == labels[1, 0] == 1 and labels.sum() == 2


def test_a_neighbourhood_without_unit_offsets_cannot_join_blocks():
    affs = np.ones((1, 20, 20), np.float32)
    with pytest.raises(ValueError, match="no nearest-neighbour offset along axis 0"):
        segment(affs, LabelRule("watershed", 0.5, offsets=((0, 1),)), block=(10, 10))
