from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
DACAPO = DATA / "dacapo"


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture(autouse=True)
def float32_unless_asked(monkeypatch):
    """Precision "auto" (the dock's default) means float32 in the tests, whatever this
    processor has, so that the docks' outputs can be compared exactly with float32 passes;
    the tests of "auto" itself say which hardware they pretend to run on."""
    import napari_dacapo.tiling.devices as devices

    monkeypatch.setattr(devices, "fast_bfloat16", lambda device: False)
