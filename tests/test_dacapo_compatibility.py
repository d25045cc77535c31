"""Our network against dacapo-ml 0.3.5's own outputs (fixtures from shared/tools/dacapo_reference.py).

Each fixture holds DaCapo's state dict for a config, a random input and DaCapo's output; see
tests/data/dacapo/make_reference.sh to regenerate them.
"""

import pytest
import torch
from conftest import DACAPO
from funlib.geometry import Coordinate

from napari_dacapo.io import load_config

CONFIGS = sorted(p.stem for p in DACAPO.glob("unet*.json"))


def _reference(name):
    return torch.load(DACAPO / f"{name}.pt", weights_only=True)


def test_all_variants_are_covered():
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("name", CONFIGS)
def test_state_dict_names_and_shapes_equal_dacapo(name):
    config = load_config(DACAPO / f"{name}.json")
    net = config.architecture_type(config)
    reference = _reference(name)["state_dict"]
    ours = net.state_dict()
    assert list(ours) == list(reference)
    assert {k: tuple(v.shape) for k, v in ours.items()} == {k: tuple(v.shape) for k, v in reference.items()}


@pytest.mark.parametrize("name", CONFIGS)
def test_dacapo_weights_give_dacapo_output(name):
    config = load_config(DACAPO / f"{name}.json")
    assert config.verify() == (True, "valid")
    net = config.architecture_type(config)
    reference = _reference(name)
    net.load_state_dict(reference["state_dict"], strict=True)
    net.eval()
    with torch.no_grad():
        y = net(reference["x"])
    assert y.shape == reference["y"].shape
    torch.testing.assert_close(y, reference["y"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", CONFIGS)
def test_geometry_predicts_dacapo_output_shape(name):
    config = load_config(DACAPO / f"{name}.json")
    reference = _reference(name)
    expected = Coordinate(reference["y"].shape[2:])
    assert config.geometry().output_shape(reference["x"].shape[2:]) == expected


def test_padding_same_crops_like_dacapo():
    # dacapo-ml's crop to the translation-equivariance factor also applies with padding="same"
    assert tuple(_reference("unet2d_same_factor3")["y"].shape[2:]) == (34, 34)
