"""The seed's public API: names, abstract members, DaCapo's defaults and the dummy."""

import inspect

import attr
import pytest
import torch
from funlib.geometry import Coordinate

import napari_dacapo.architectures as architectures
from napari_dacapo.architectures import (
    Architecture,
    ArchitectureConfig,
    CNNectomeUNet,
    CNNectomeUNetConfig,
    DummyArchitecture,
    DummyArchitectureConfig,
)

SEED_NAMES = [
    "Architecture",
    "ArchitectureConfig",
    "DummyArchitectureConfig",
    "DummyArchitecture",
    "CNNectomeUNetConfig",
    "CNNectomeUNet",
]


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_names_are_public(name):
    assert name in architectures.__all__
    assert inspect.isclass(getattr(architectures, name))


def test_architecture_is_abstract_in_shape_and_channels():
    assert issubclass(Architecture, torch.nn.Module)
    abstract = Architecture.__abstractmethods__
    assert abstract == {"input_shape", "num_in_channels", "num_out_channels"}
    with pytest.raises(TypeError):
        Architecture()


def test_architecture_defaults():
    class Minimal(Architecture):
        input_shape = Coordinate(5, 6)
        num_in_channels = 1
        num_out_channels = 1

        def forward(self, x):
            return x

    net = Minimal()
    assert net.eval_shape_increase == Coordinate(0, 0)
    assert net.dims == 2
    assert net.scale(Coordinate(4, 8)) == Coordinate(4, 8)
    assert net.output_shape(Coordinate(5, 6)) == Coordinate(5, 6)
    assert net.context == Coordinate(0, 0)
    assert net.num_parameters == 0


def test_dummy_config_never_verifies():
    config = DummyArchitectureConfig(name="d", num_in_channels=1, num_out_channels=1)
    assert isinstance(config, ArchitectureConfig)
    assert config.verify() == (False, "This is a DummyArchitectureConfig and is never valid")
    assert config.architecture_type is DummyArchitecture


def test_dummy_architecture():
    net = DummyArchitecture(DummyArchitectureConfig(name="d", num_in_channels=2, num_out_channels=3))
    assert net.input_shape == Coordinate(40, 20, 20)
    assert (net.num_in_channels, net.num_out_channels) == (2, 3)
    y = net(torch.randn(1, 2, 40, 20, 20))
    assert y.shape == (1, 3, 38, 18, 18)
    assert net.output_shape(net.input_shape) == Coordinate(38, 18, 18)
    assert net.num_parameters == 2 * 3 * 27 + 3


def test_base_config_verifies_trivially():
    assert ArchitectureConfig(name="x").verify() == (True, "No validation for this Architecture")


def test_unet_config_defaults_match_dacapo_0_3_5():
    defaults = {a.name: a.default for a in attr.fields(CNNectomeUNetConfig) if a.default is not attr.NOTHING}
    assert defaults == {
        "kernel_size_down": None,
        "kernel_size_up": None,
        "_eval_shape_increase": None,
        "upsample_factors": None,
        "constant_upsample": True,
        "padding": "valid",
        "use_attention": False,
        "batch_norm": False,
    }
    assert CNNectomeUNetConfig.architecture_type is CNNectomeUNet
    assert all("help_text" in a.metadata for a in attr.fields(CNNectomeUNetConfig))


def test_unet_properties():
    config = CNNectomeUNetConfig(
        name="u",
        input_shape=(52, 52, 52),
        fmaps_out=3,
        fmaps_in=2,
        num_fmaps=4,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2, 2)],
        eval_shape_increase=(8, 8, 8),
    )
    net = config.architecture_type(config)
    assert isinstance(net, Architecture)
    assert net.input_shape == Coordinate(52, 52, 52)
    assert net.eval_shape_increase == Coordinate(8, 8, 8)
    assert (net.num_in_channels, net.num_out_channels, net.dims) == (2, 3, 3)
    # one level: 52 -4 (2 convs) = 48, /2 = 24, -4 = 20, x2 = 40, -4 = 36
    assert net.output_shape(net.input_shape) == Coordinate(36, 36, 36)
    assert net.context == Coordinate(16, 16, 16)
    assert net.num_parameters == sum(p.numel() for p in net.parameters())


def test_eval_shape_increase_defaults_to_zeros():
    config = CNNectomeUNetConfig(
        name="u",
        input_shape=(44, 44),
        fmaps_out=1,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2)],
    )
    assert config.architecture_type(config).eval_shape_increase == Coordinate(0, 0)


def test_scale_divides_with_integer_truncation_like_dacapo():
    config = CNNectomeUNetConfig(
        name="u",
        input_shape=(48, 48),
        fmaps_out=1,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2)],
        upsample_factors=[(2, 2), (1, 2)],
    )
    net = config.architecture_type(config)
    assert net.scale(Coordinate(8, 8)) == Coordinate(4, 2)
    assert net.scale(Coordinate(1, 1)) == Coordinate(0, 0)
    assert net.upsample_factor == Coordinate(2, 4)


def test_four_dimensional_input_is_a_clear_error():
    config = CNNectomeUNetConfig(
        name="u",
        input_shape=(10, 44, 44, 44),
        fmaps_out=1,
        fmaps_in=1,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[(1, 2, 2, 2)],
    )
    valid, reason = config.verify()
    assert not valid and "2D or 3D" in reason
    with pytest.raises(ValueError, match="2D and 3D"):
        config.architecture_type(config)


def test_forward_refuses_wrong_channels_and_dims():
    config = CNNectomeUNetConfig(
        name="u",
        input_shape=(44, 44),
        fmaps_out=1,
        fmaps_in=2,
        num_fmaps=2,
        fmap_inc_factor=2,
        downsample_factors=[(2, 2)],
    )
    net = config.architecture_type(config)
    with pytest.raises(ValueError, match="2 input channels, got 1"):
        net(torch.zeros(1, 1, 44, 44))
    with pytest.raises(ValueError, match="2 spatial axes"):
        net(torch.zeros(1, 2, 44, 44, 44))
