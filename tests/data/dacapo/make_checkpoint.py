"""Write DaCapo run checkpoints (as dacapo-ml 0.3.5's LocalWeightsStore does) for the tests.

Run with the dacapo-ml venv described in shared/tools/dacapo_reference.py:
    venv-dacapo/bin/python make_checkpoint.py
Writes checkpoint_weights.pt (a pickled dacapo Weights object), checkpoint_dict.pt (the older
{"model", "optimizer"} dict) and checkpoint_reference.pt ({"x", "y"}: the run model's output).
"""

import json
import os
import sys
import types

import torch

site = next(p for p in sys.path if p.endswith("site-packages"))
for name, sub in [("dacapo", "dacapo"), ("dacapo.experiments", "dacapo/experiments"), ("dacapo.store", "dacapo/store")]:
    module = types.ModuleType(name)
    module.__path__ = [os.path.join(site, sub)]
    sys.modules[name] = module
run_stub = types.ModuleType("dacapo.experiments.run")
run_stub.Run = object  # weights_store only uses it in type hints
sys.modules["dacapo.experiments.run"] = run_stub

from dacapo.experiments.architectures import CNNectomeUNetConfig  # noqa: E402
from dacapo.experiments.model import Model  # noqa: E402
from dacapo.store.weights_store import Weights  # noqa: E402
from funlib.geometry import Coordinate  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
doc = json.load(open(os.path.join(here, "unet2d_valid_multichannel.json")))
doc.pop("__type__")
kwargs = {k.lstrip("_"): v for k, v in doc.items()}
kwargs["input_shape"] = Coordinate(kwargs["input_shape"])
kwargs["downsample_factors"] = [Coordinate(f) for f in kwargs["downsample_factors"]]
torch.manual_seed(1)
config = CNNectomeUNetConfig(**kwargs)
architecture = config.architecture_type(config)
head = torch.nn.Conv2d(architecture.num_out_channels, 5, (1, 1))
model = Model(architecture, head, eval_activation=torch.nn.Sigmoid()).eval()
optimizer = torch.optim.Adam(model.parameters())
x = torch.rand(1, 2, 60, 68)
with torch.no_grad():
    y = model.chain(x)  # the stored model, without the task's (unstored) eval activation
torch.save(Weights(model.state_dict(), optimizer.state_dict()), os.path.join(here, "checkpoint_weights.pt"))
torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, os.path.join(here, "checkpoint_dict.pt"))
torch.save({"x": x, "y": y}, os.path.join(here, "checkpoint_reference.pt"))
print("keys:", list(model.state_dict())[:3], "...", len(model.state_dict()), "tensors; y", tuple(y.shape))
