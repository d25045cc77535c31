"""Tiled prediction equals one forward pass over the whole image, for any shape and tile."""

import numpy as np
import pytest
from funlib.geometry import Coordinate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import small_unet, whole_image_forward

from napari_dacapo import plan_prediction, predict

unet = small_unet


def assert_close(actual, expected):
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def valid_tiles(network, low, high):
    return [s for s in range(low, high) if network.geometry.is_valid_input((s,) * network.dims)]


# -- valid padding: output = image minus context, equal to the whole-image pass ----------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.tuples(st.integers(40, 130), st.integers(40, 130)),
    tile=st.tuples(st.integers(0, 8), st.integers(0, 8)),
    levels=st.sampled_from([[(2, 2)], [(2, 2), (2, 2)], [(3, 2)], [(1, 2)]]),
    pad=st.sampled_from(["valid", "reflect", "zero"]),
)
def test_2d_valid_networks_are_exact(shape, tile, levels, pad):
    network = unet(downsample_factors=levels, input_shape=(100, 100))
    tiles = [valid_tiles(network, 30, 140)] * 2
    tile_shape = tuple(t[i % len(t)] for t, i in zip(tiles, tile, strict=True))
    context = network.input_shape - network.output_shape(network.input_shape)
    image = np.random.default_rng(1).random(shape, dtype=np.float32)
    if pad == "valid" and any(s <= c for s, c in zip(shape, context, strict=True)):
        return
    result = predict(network, image, pad=pad, tile_shape=tile_shape)
    if pad == "valid":
        expected = whole_image_forward(network, image[None])
        out = Coordinate(shape) - context
        assert result.shape == (2, *out)
        assert_close(result, expected[(slice(None), *(slice(0, s) for s in out))])
    else:
        margin = tuple(c // 2 for c in context)
        mode = "reflect" if pad == "reflect" else "constant"
        expected = whole_image_forward(network, image[None], margin, mode)
        assert result.shape == (2, *shape)
        assert_close(result, expected[(slice(None), *(slice(0, s) for s in shape))])


@pytest.mark.parametrize("shape", [(9, 50, 61), (30, 33, 29), (1, 1, 1)])
def test_3d_including_images_smaller_than_one_tile(shape):
    network = unet(dims=3, input_shape=(20, 20, 20))
    image = np.random.default_rng(2).random(shape, dtype=np.float32)
    result = predict(network, image, pad="reflect", tile_shape=(28, 36, 24))
    expected = whole_image_forward(network, image[None], margin=8, mode="reflect")
    assert result.shape == (2, *shape)
    assert_close(result, expected[(slice(None), *(slice(0, s) for s in shape))])


def test_small_image_uses_a_smaller_tile():
    network = unet(dims=3, input_shape=(20, 20, 20), eval_shape_increase=(40, 40, 40))
    plan = plan_prediction(network, (5, 6, 7), pad="reflect")
    assert len(plan.tiles) == 1
    # the smallest valid tile covering 5 + 16 context voxels is 22 (valid sizes: 18 + 2n)
    assert plan.grid.tile_shape == Coordinate(22, 22, 24)


def test_output_voxel_i_is_input_voxel_i_plus_half_the_context():
    network = unet()
    plan = plan_prediction(network, (80, 90), pad="valid")
    context = network.input_shape - network.output_shape(network.input_shape)
    assert plan.output_offset == tuple(c // 2 for c in context)
    assert plan.output_placement(voxel_size=(4, 8), offset=(100, 0)) == ((4.0, 8.0), (132.0, 64.0))
    assert plan_prediction(network, (80, 90), pad="reflect").output_offset == (0, 0)


# -- super-resolution: output on a finer grid ---------------------------------------------


@pytest.mark.parametrize("pad", ["valid", "reflect"])
def test_super_resolution_network(pad):
    network = unet(input_shape=(48, 48), upsample_factors=[(2, 2)])
    image = np.random.default_rng(3).random((70, 63), dtype=np.float32)
    result = predict(network, image, pad=pad, tile_shape=(52, 56))
    if pad == "valid":
        # U-Net output s - 16, then x2 and two valid 3-convs: 2 s - 36
        out = (2 * 70 - 36, 2 * 63 - 36)
        expected = whole_image_forward(network, image[None])
    else:
        out = (140, 126)
        # each input voxel is 2 output voxels; context 36 output voxels = 18 input voxels
        expected = whole_image_forward(network, image[None], margin=9, mode="reflect")
    assert result.shape == (2, *out)
    assert_close(result, expected[(slice(None), *(slice(0, s) for s in out))])
    plan = plan_prediction(network, (70, 63), pad=pad)
    size, origin = plan.output_placement(voxel_size=(8, 8))
    assert size == (4.0, 4.0)
    # centre of the first output voxel: 18/2 input voxels in (valid); the first half-voxel
    # of input voxel 0 (reflect)
    assert origin == ((8 * 8.75, 8 * 8.75) if pad == "valid" else (-2.0, -2.0))


# -- same padding: overlapping tiles with their borders dropped ---------------------------


@pytest.mark.parametrize("attention", [False, True])
@pytest.mark.parametrize("dims, shape, tile", [(2, (97, 75), (96, 96)), (3, (21, 40, 33), (72, 72, 72))])
def test_same_padding_matches_whole_image_pass(dims, shape, tile, attention):
    network = unet(
        dims=dims,
        padding="same",
        input_shape=(16,) * dims,
        downsample_factors=[(2,) * dims, (2,) * dims],
        use_attention=attention,
    )
    image = np.random.default_rng(4).random(shape, dtype=np.float32)
    plan = plan_prediction(network, shape, pad="zero", tile_shape=tile)
    assert len(plan.tiles) > 1
    result = predict(network, image, pad="zero", tile_shape=tile)
    margin = 48  # more than the receptive field: the image is untouched by the border
    expected = whole_image_forward(network, image[None], margin, "constant")
    expected = expected[(slice(None), *(slice(margin, margin + s) for s in shape))]
    assert result.shape == (2, *shape)
    if not attention:
        assert_close(result, expected)
    else:
        # attention gates upsample with align_corners=True, whose sampling positions depend
        # on the feature map's size: not translation equivariant, so tiles differ slightly.
        # The bound we state: 1e-3 of the output's range (measured: 1.5e-4).
        np.testing.assert_allclose(result, expected, rtol=0, atol=1e-3 * float(np.abs(expected).max()))


# -- the plan itself: writes tile the output exactly once ---------------------------------


@settings(max_examples=40, deadline=None)
@given(
    shape=st.tuples(st.integers(1, 200), st.integers(1, 200)),
    pad=st.sampled_from(["reflect", "zero"]),
    factor=st.sampled_from([(2, 2), (3, 1), (2, 3)]),
)
def test_write_regions_tile_the_output_exactly_once(shape, pad, factor):
    network = unet(input_shape=(100, 100), downsample_factors=[factor])
    plan = plan_prediction(network, shape, pad=pad, tile_shape=network.input_shape)
    coverage = np.zeros(plan.output_shape, np.int32)
    for block in plan.tiles:
        coverage[block.write_roi.to_slices()] += 1
        assert all(r % f == 0 for r, f in zip(block.read_roi.begin + plan.pad_lo, factor, strict=True))
    assert (coverage == 1).all()
