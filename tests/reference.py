"""Independent whole-image predictions for the tiling tests: pad with numpy, one forward pass."""

import numpy as np
import torch

from napari_dacapo.architectures import CNNectomeUNetConfig


def whole_image_forward(network, image: np.ndarray, margin=0, mode: str = "reflect") -> np.ndarray:
    """Pad ``image`` (spatial axes only) by ``margin`` (one int or one per axis) with numpy,
    extend it at the far end to the next size the network accepts, and run the network once.

    The far end is padded further in the same mode (16 voxels) before the zero extension:
    the last output voxels of a pooling network may see up to its grid period past the
    nominal context, and the engine reads the padding mode there too.
    """
    spatial = image.ndim - 1
    margins = [margin] * spatial if isinstance(margin, int) else list(margin)
    far = [m + 16 if m else 0 for m in margins]
    padded = np.pad(image, [(0, 0)] + list(zip(margins, far, strict=True)), mode=mode)
    shape = list(padded.shape[1:])
    geometry = network.geometry
    while not geometry.is_valid_input(shape):
        for axis in range(spatial):
            probe = list(shape)
            if not _axis_ok(geometry, probe, axis):
                shape[axis] += 1
    extended = np.zeros((padded.shape[0], *shape), np.float32)
    extended[(slice(None),) + tuple(slice(0, s) for s in padded.shape[1:])] = padded
    with torch.no_grad():
        return network(torch.from_numpy(extended)[None]).numpy()[0]


def _axis_ok(geometry, shape, axis):
    try:
        geometry.walk_axis(shape[axis], axis)
    except ValueError:
        return False
    return True


def small_unet(dims=2, **changes):
    """A small valid U-Net (3 feature maps, one 2×…×2 level), seeded: the tests' network."""
    fields = dict(
        name="u",
        input_shape=(44,) * dims,
        fmaps_out=2,
        fmaps_in=1,
        num_fmaps=3,
        fmap_inc_factor=2,
        downsample_factors=[(2,) * dims],
    )
    fields.update(changes)
    config = CNNectomeUNetConfig(**fields)
    assert config.verify() == (True, "valid"), config.verify()
    torch.manual_seed(0)
    return config.architecture_type(config).eval()
