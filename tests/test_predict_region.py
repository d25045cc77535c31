"""Predicting a region (napari's Preview) gives the same voxels as predicting the whole image."""

import numpy as np
import pytest
from funlib.geometry import Roi
from test_tiling_exact import assert_close, unet

from napari_dacapo import plan_prediction, predict
from napari_dacapo.tiling.region import predict_region


@pytest.mark.parametrize("pad", ["reflect", "zero", "valid"])
@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"downsample_factors": [(2, 2), (3, 3)], "input_shape": (72, 72)},
        {"upsample_factors": [(2, 2)], "input_shape": (44, 44)},
    ],
    ids=["one-level", "factors-2-3", "superres"],
)
def test_region_equals_the_same_voxels_of_a_full_run(pad, changes):
    network = unet(2, **changes)
    image = np.random.default_rng(1).random((97, 131), dtype=np.float32)
    full = predict(network, image, pad=pad, device="cpu")
    plan = plan_prediction(network, image.shape, pad)
    roi = Roi((40, 57), (9, 23))
    region = predict_region(network, image, roi, pad=pad, device="cpu")
    begin = region.output_begin
    expected = full[(slice(None),) + tuple(slice(b, b + s) for b, s in zip(begin, region.data.shape[1:], strict=True))]
    assert_close(region.data, expected)
    # the region's voxels sit where the full run puts them
    a = network.upsample_factor
    for d in range(2):
        assert region.offset[d] == plan.output_offset[d] + begin[d] / a[d]
        # and they cover the roi: every output centre in [roi.begin - 1/2, roi.end - 1/2)
        first = float(region.offset[d])
        last = first + (region.data.shape[d + 1] - 1) / a[d]
        assert roi.begin[d] - 0.5 <= first < roi.begin[d] - 0.5 + 1 / a[d] or pad == "valid"
        assert roi.end[d] - 0.5 - 1 / a[d] <= last < roi.end[d] - 0.5 or pad == "valid"


def test_region_in_3d_is_one_slice_with_its_context():
    network = unet(3, input_shape=(44, 44, 44))
    image = np.random.default_rng(2).random((50, 60, 61), dtype=np.float32)
    full = predict(network, image, device="cpu")
    region = predict_region(network, image, Roi((25, 0, 0), (1, 60, 61)), device="cpu")
    assert region.data.shape == (2, 1, 60, 61)
    assert tuple(region.output_begin) == (25, 0, 0)
    assert_close(region.data[:, 0], full[:, 25])


def test_region_outside_the_image_is_refused():
    network = unet(2)
    with pytest.raises(ValueError, match="outside the image"):
        predict_region(network, np.zeros((50, 50), np.float32), Roi((60, 0), (5, 5)))


@pytest.mark.parametrize("pad", ["reflect", "valid"])
@pytest.mark.parametrize("changes", [{}, {"upsample_factors": [(2, 2)], "input_shape": (44, 44)}], ids=["plain", "sr"])
def test_the_whole_window_equals_the_full_run_and_covers_what_it_says(pad, changes):
    network = unet(2, **changes)
    image = np.random.default_rng(3).random((97, 131), dtype=np.float32)
    full = predict(network, image, pad=pad, device="cpu")
    roi = Roi((40, 57), (1, 23))
    region = predict_region(network, image, roi, pad=pad, device="cpu", whole_window=True)
    narrow = predict_region(network, image, roi, pad=pad, device="cpu")
    assert all(w >= n for w, n in zip(region.data.shape, narrow.data.shape, strict=True))
    assert region.data.shape[1] > 1  # more than the one row asked for
    begin = region.output_begin
    expected = full[(slice(None),) + tuple(slice(b, b + s) for b, s in zip(begin, region.data.shape[1:], strict=True))]
    assert_close(region.data, expected)
    # covers(): true for the region asked and for one a row further inside; false far away
    assert region.covers(roi) and narrow.covers(roi)
    inside = [r for r in range(30, 60) if region.covers(Roi((r, 57), (1, 23)))]
    assert 40 in inside and len(inside) > 1
    assert not region.covers(Roi((90, 57), (1, 23))) and not narrow.covers(Roi((41, 57), (1, 23)))
