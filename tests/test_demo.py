"""The sample data and the demo models: deterministic images, a model that finds the membranes."""

import numpy as np
import pytest

from napari_dacapo import predict
from napari_dacapo.networks import demo_model, demo_models
from napari_dacapo.sample_data import synthetic_em


def test_sample_images_are_the_same_on_every_machine():
    a, b = synthetic_em((32, 48, 40), seed=5), synthetic_em((32, 48, 40), seed=5)
    np.testing.assert_array_equal(a.raw, b.raw)
    assert a.raw.dtype == np.uint8 and a.raw.shape == (32, 48, 40)
    assert not np.array_equal(a.raw, synthetic_em((32, 48, 40), seed=6).raw)


def test_membranes_are_darker_than_cytoplasm():
    em = synthetic_em((128, 128), seed=1)
    assert em.raw[em.membranes].mean() < em.raw[~em.membranes].mean() - 50
    assert 0.05 < em.membranes.mean() < 0.35


def test_the_demo_models_are_small_and_listed():
    assert set(demo_models()) == {"demo_membranes_2d", "demo_membranes_3d"}
    for model in demo_models().values():
        assert model.weights_path.stat().st_size < 2 * 2**20


@pytest.mark.parametrize("dims,shape", [(2, (256, 256)), (3, (64, 128, 128))])
def test_the_demo_model_finds_the_membranes_of_an_image_it_never_saw(dims, shape):
    em = synthetic_em(shape, seed=0)  # trained on seeds 1-4
    _config, network = demo_model(dims).load()
    found = predict(network, em.raw, device="cpu")[0] > 0.5
    precision = (found & em.membranes).sum() / found.sum()
    recall = (found & em.membranes).sum() / em.membranes.sum()
    assert precision > 0.8 and recall > 0.8, (precision, recall)
