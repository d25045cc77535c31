"""verify() rejects what cannot be built or run, and says why."""

import pytest
from funlib.geometry import Coordinate

from napari_dacapo.architectures import CNNectomeUNetConfig


def config(**changes):
    fields = dict(
        name="u",
        input_shape=Coordinate(52, 52, 52),
        fmaps_out=2,
        fmaps_in=1,
        num_fmaps=4,
        fmap_inc_factor=2,
        downsample_factors=[Coordinate(2, 2, 2)],
    )
    fields.update(changes)
    return CNNectomeUNetConfig(**fields)


def test_a_good_config_verifies():
    assert config().verify() == (True, "valid")
    assert config(eval_shape_increase=(8, 8, 8)).verify() == (True, "valid")


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"downsample_factors": [(2, 2)]}, "downsample_factors[0] has 2 dims, input_shape has 3"),
        ({"eval_shape_increase": (8, 8)}, "eval_shape_increase has 2 dims"),
        ({"input_shape": (53, 52, 52)}, "cannot be downsampled by 2 at level 0 (axis 0)"),
        ({"input_shape": (12, 52, 52)}, "gives no output"),
        ({"eval_shape_increase": (1, 0, 0)}, "input_shape + eval_shape_increase (53, 52, 52)"),
        ({"kernel_size_down": [[(3, 3, 3)]]}, "kernel_size_down must list 2 levels"),
        ({"kernel_size_up": [[(3, 3, 3)], [(3, 3, 3)]]}, "kernel_size_up must list 1 levels"),
        ({"kernel_size_up": [[(3, 3)]]}, "kernel_size_up[0][0] has 2 dims"),
        ({"padding": "reflect"}, "'reflect' is not a valid choice for 'padding'"),
        ({"downsample_factors": []}, "at least one factor"),
        ({"fmaps_in": 0}, "fmaps_in must be a positive integer"),
        ({"upsample_factors": [(2, 2, 0)]}, "upsample_factors[0] must be positive"),
        ({"input_shape": (52, 52, 52, 52)}, "must be 2D or 3D"),
    ],
)
def test_bad_configs_say_why(changes, reason):
    valid, message = config(**changes).verify()
    assert not valid
    assert reason in message


def test_several_problems_are_all_reported():
    valid, message = config(fmaps_in=0, padding="full").verify()
    assert not valid
    assert "fmaps_in" in message and "padding" in message


@pytest.mark.parametrize(
    "changes, reason",
    [
        ({"input_shape": Coordinate((52,) * 100_000)}, "must be 2D or 3D, got 100,000D"),
        ({"downsample_factors": [Coordinate(2, 2, 2)] * 10_000}, "downsample_factors lists 10,000 levels"),
        ({"fmaps_in": "x" * 100_000}, "fmaps_in must be a positive integer, got 'xxx"),
        ({"padding": ["valid"] * 100_000}, "is not a valid choice for 'padding'"),
        ({"upsample_factors": [(0, 0, 0)] * 20}, "(+12 more problems)"),
        ({"input_shape": Coordinate((10**100,) * 3)}, "an integer of ~101 digits"),
    ],
)
def test_reasons_stay_short_whatever_the_values(changes, reason):
    valid, message = config(**changes).verify()
    assert not valid
    assert reason in message
    assert "\n" not in message and len(message) < 700


def test_absurd_sizes_are_refused_with_the_figure():
    valid, message = config(input_shape=Coordinate(100_000, 100_000, 100_000)).verify()
    assert not valid
    assert "needs ~" in message and "more than the limit of 1.0 TiB" in message
    valid, message = config(num_fmaps=10**6).verify()
    assert not valid
    assert "parameters" in message and "more than the limit of 2,147,483,648" in message
