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
