"""Starting up: importing the package, the command line's help and ``info CONFIG``, and
napari's plugin discovery load no torch, napari, zarr, dask or Qt (counted, not timed)."""

import ast
import importlib
import subprocess
import sys
from importlib import metadata

import pytest

import napari_dacapo
import napari_dacapo.architectures as architectures

HEAVY = ("torch", "napari", "zarr", "dask", "qtpy", "PyQt6")


def heavy_modules_after(code: str) -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``code``."""
    script = (
        f"import contextlib, sys\n{code}\nprint(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def cli(*args: str) -> str:
    """``code`` that runs the command line in-process (``--help`` exits, so that is caught)."""
    return f"from napari_dacapo.cli import main\nwith contextlib.suppress(SystemExit): main({list(args)!r})"


def test_importing_the_package_loads_nothing_heavy():
    assert heavy_modules_after("import napari_dacapo") == []


@pytest.mark.parametrize("args", [["--help"], ["predict", "--help"], ["info", "--help"]], ids=" ".join)
def test_the_help_loads_nothing_heavy(args):
    assert heavy_modules_after(cli(*args)) == []


@pytest.mark.parametrize("config", ["cellmap_unet3d", "demo_membranes_2d"])
def test_info_on_a_config_loads_nothing_heavy(config):
    assert heavy_modules_after(cli("info", config)) == []


def test_the_plugin_manifest_is_read_without_torch():
    code = "import npe2\nassert npe2.PluginManifest.from_distribution('napari-dacapo').name == 'napari-dacapo'"
    assert "torch" not in heavy_modules_after(code)


def test_napari_plugin_discovery_loads_no_torch():
    code = (
        "import npe2\n"
        "manager = npe2.PluginManager.instance()\n"
        "manager.discover()\n"
        "assert manager.get_manifest('napari-dacapo').display_name == 'napari DaCapo'"
    )
    assert "torch" not in heavy_modules_after(code)


def test_the_lazy_names_are_the_objects_of_their_modules():
    from napari_dacapo import tiling

    for name in ("PredictOptions", "PredictionCancelled", "plan_prediction", "predict"):
        assert getattr(napari_dacapo, name) is getattr(tiling, name)
    for name in architectures.__all__:
        module = importlib.import_module(architectures._MODULES[name], "napari_dacapo.architectures")
        assert getattr(architectures, name) is getattr(module, name)
    assert set(napari_dacapo.__all__) <= set(dir(napari_dacapo))
    assert set(architectures.__all__) <= set(dir(architectures))


@pytest.mark.parametrize("module", [napari_dacapo, architectures], ids=lambda m: m.__name__)
def test_an_unknown_name_is_an_attribute_error(module):
    with pytest.raises(AttributeError, match="no_such_name"):
        module.no_such_name  # noqa: B018


def test_the_version_is_the_installed_distributions():
    assert napari_dacapo.__version__ == metadata.version("napari-dacapo")


def test_the_version_of_a_source_tree_that_is_not_installed(monkeypatch):
    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert napari_dacapo._version() == "0+unknown"
