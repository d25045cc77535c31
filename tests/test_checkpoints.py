"""Weights from what DaCapo writes, refused when unsafe or ill-fitting."""

import pickle

import pytest
import torch
from conftest import DACAPO

from napari_dacapo.io import ArchitectureWithHead, CheckpointError, load_config, load_weights


def fresh_network():
    config = load_config(DACAPO / "unet2d_valid_multichannel.json")
    return config.architecture_type(config).eval()


@pytest.mark.parametrize("checkpoint", ["checkpoint_weights.pt", "checkpoint_dict.pt"])
def test_dacapo_run_checkpoint_predicts_like_the_run_model(checkpoint):
    # written by tests/data/dacapo/make_checkpoint.py with dacapo-ml's Model and Weights
    reference = torch.load(DACAPO / "checkpoint_reference.pt", weights_only=True)
    network = load_weights(fresh_network(), DACAPO / checkpoint)
    assert isinstance(network, ArchitectureWithHead)
    assert network.num_out_channels == 5
    assert network.num_in_channels == 2
    with torch.no_grad():
        y = network(reference["x"])
    torch.testing.assert_close(y, reference["y"], rtol=1e-5, atol=1e-6)


def test_bare_state_dict_loads_into_the_same_object(tmp_path):
    source = fresh_network()
    torch.save(source.state_dict(), tmp_path / "w.pt")
    target = fresh_network()
    assert load_weights(target, tmp_path / "w.pt") is target
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value)


def test_mismatch_names_keys_and_shapes_and_leaves_the_model(tmp_path):
    state = fresh_network().state_dict()
    state.pop("unet.l_conv.0.conv_pass.0.bias")
    state["unet.extra.weight"] = torch.zeros(1)
    state["unet.r_conv.0.0.conv_pass.2.weight"] = torch.zeros(3, 4, 3, 3)
    torch.save(state, tmp_path / "bad.pt")
    network = fresh_network()
    before = {k: v.clone() for k, v in network.state_dict().items()}
    with pytest.raises(CheckpointError) as error:
        load_weights(network, tmp_path / "bad.pt")
    message = str(error.value)
    assert "missing keys unet.l_conv.0.conv_pass.0.bias" in message
    assert "unexpected keys unet.extra.weight" in message
    assert "unet.r_conv.0.0.conv_pass.2.weight: checkpoint (3, 4, 3, 3), network (3, 3, 3, 3)" in message
    assert all(torch.equal(before[k], v) for k, v in network.state_dict().items())


class _Exploit:
    def __reduce__(self):
        import os

        return (os.system, ("touch pwned-by-checkpoint",))


def test_pickled_code_is_refused_and_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"model": _Exploit()}, f)
    with pytest.raises(CheckpointError, match="refused"):
        load_weights(fresh_network(), tmp_path / "evil.pt")
    assert not (tmp_path / "pwned-by-checkpoint").exists()


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "x.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a readable torch checkpoint"):
        load_weights(fresh_network(), tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        load_weights(fresh_network(), tmp_path / "absent.pt")
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="expected a state dict"):
        load_weights(fresh_network(), tmp_path / "list.pt")
