from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
DACAPO = DATA / "dacapo"


@pytest.fixture
def data_dir() -> Path:
    return DATA
