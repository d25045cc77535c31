"""Shape arithmetic against hand-derived rules and against torch running the network."""

import pytest
import torch
from funlib.geometry import Coordinate
from hypothesis import given, settings
from hypothesis import strategies as st

from napari_dacapo.architectures import CNNectomeUNetConfig, ShapeError


def unet(dims=3, factors=((2, 2, 2), (2, 2, 2)), **kwargs):
    kwargs.setdefault("input_shape", (100,) * dims)
    return CNNectomeUNetConfig(
        name="u",
        fmaps_out=1,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[Coordinate(f) for f in factors],
        **kwargs,
    )


def test_two_level_3d_rule_from_dacapo_facts():
    # valid inputs are 44 + 4n and the output is the input minus 40
    geometry = unet().geometry()
    valid = [s for s in range(1, 120) if geometry.is_valid_input((s, s, s))]
    assert valid == list(range(44, 120, 4))
    for s in valid:
        assert geometry.output_shape((s, s, s)) == Coordinate(s - 40, s - 40, s - 40)


def test_general_rule_for_one_level_2d():
    # level 0: s - 4 must be even; bottom b = (s - 4) / 2 - 4; the up path 2 b - 4 >= 1
    geometry = unet(dims=2, factors=((2, 2),)).geometry()
    for s in range(1, 60):
        expected_valid = (s - 4) % 2 == 0 and 2 * ((s - 4) // 2 - 4) - 4 >= 1
        assert geometry.is_valid_input((s, s)) == expected_valid, s
        if expected_valid:
            assert geometry.output_shape((s, s)) == Coordinate(s - 16, s - 16)


def test_invalid_shape_explains_itself():
    geometry = unet().geometry()
    with pytest.raises(ShapeError, match="cannot be downsampled by 2 at level 0"):
        geometry.output_shape((45, 44, 44))
    with pytest.raises(ShapeError, match="vanishes"):
        geometry.output_shape((8, 44, 44))


def test_super_resolution_rule():
    # U-Net output o, then x2 nearest and two valid 3-convs: 2 o - 4
    geometry = unet(dims=2, factors=((2, 2),), upsample_factors=[(2, 2)]).geometry()
    for s in (44, 48, 52):
        assert geometry.output_shape((s, s)) == Coordinate(2 * (s - 16) - 4, 2 * (s - 16) - 4)


def test_output_offset_is_half_the_context_for_symmetric_nets():
    geometry = unet().geometry()
    assert geometry.output_offset((48, 48, 48)) == (20, 20, 20)


factors = st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3)), min_size=1, max_size=2)


@settings(max_examples=25, deadline=None)
@given(
    factors=factors,
    padding=st.sampled_from(["valid", "same"]),
    attention=st.booleans(),
    constant=st.booleans(),
    size=st.tuples(st.integers(20, 70), st.integers(20, 70)),
    kernel=st.sampled_from([1, 3, 5]),
)
def test_geometry_agrees_with_running_the_network(factors, padding, attention, constant, size, kernel):
    levels = len(factors) + 1
    k = [[(kernel, 3)]] * levels
    config = unet(
        dims=2,
        factors=factors,
        input_shape=size,
        padding=padding,
        use_attention=attention,
        constant_upsample=constant,
        kernel_size_down=k,
        kernel_size_up=k[:-1],
    )
    net = config.architecture_type(config).eval()
    try:
        expected = config.geometry().output_shape(size)
    except ShapeError:
        expected = None
    try:
        with torch.no_grad():
            actual = Coordinate(net(torch.rand(1, 1, *size)).shape[2:])
    except (RuntimeError, AssertionError):
        actual = None
    assert actual == expected
