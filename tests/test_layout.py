"""The package's layout: a headless core that loads no GUI, moved names that still import,
a manifest that is a real file inside the package."""

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import napari_dacapo

CORE = [
    "napari_dacapo",
    "napari_dacapo.architectures",
    "napari_dacapo.io",
    "napari_dacapo.placement",
    "napari_dacapo.networks",
    "napari_dacapo.summary",
    "napari_dacapo.sample_data",
    "napari_dacapo.tiling",
    "napari_dacapo.blockwise",
    "napari_dacapo.cli",
    # the shell's Qt-free parts
    "napari_dacapo.widgets",
    "napari_dacapo.widgets.registry",
    "napari_dacapo.widgets.output_layers",
    "napari_dacapo._reader",
]
GUI = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "vispy")


def test_the_core_loads_no_gui_module():
    code = (
        "import sys\n"
        f"for name in {CORE!r}: __import__(name)\n"
        f"loaded = sorted({{m.split('.')[0] for m in sys.modules}} & set({GUI!r}))\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"the core loaded {result.stdout.strip()}"


MOVED = [
    ("napari_dacapo.tiling", "Block", "napari_dacapo.tiling.tiles", "Tile"),
    ("napari_dacapo.tiling", "plan_blocks", "napari_dacapo.tiling.tiles", "plan_tiles"),
    ("napari_dacapo.tiling", "predict_blocks", "napari_dacapo.tiling.predict", "predict_tiles"),
    ("napari_dacapo.tiling.blocks", "Block", "napari_dacapo.tiling.tiles", "Tile"),
    ("napari_dacapo.tiling.blocks", "PredictionPlan", "napari_dacapo.tiling.tiles", "PredictionPlan"),
    ("napari_dacapo.tiling.blocks", "PAD_MODES", "napari_dacapo.tiling.options", "PAD_MODES"),
    ("napari_dacapo.tiling.blocks", "TILE_GROWTH", "napari_dacapo.tiling.options", "TILE_GROWTH"),
    ("napari_dacapo.tiling.blocks", "smaller_plans", "napari_dacapo.tiling.memory", "smaller_plans"),
    ("napari_dacapo.tiling.predict", "on_device", "napari_dacapo.tiling.forward", "on_device"),
    (
        "napari_dacapo.tiling.predict",
        "inference_memory_format",
        "napari_dacapo.tiling.forward",
        "inference_memory_format",
    ),
    ("napari_dacapo.tiling.predict", "check_image", "napari_dacapo.tiling.inputs", "check_image"),
    ("napari_dacapo.tiling.predict", "PredictionCancelled", "napari_dacapo.tiling.progress", "PredictionCancelled"),
    ("napari_dacapo.tiling.predict", "Step", "napari_dacapo.tiling.progress", "Step"),
    ("napari_dacapo.summary", "estimate_tile_memory", "napari_dacapo.tiling.memory", "estimate_tile_memory"),
    ("napari_dacapo.demo", "demo_models", "napari_dacapo.networks", "demo_models"),
    ("napari_dacapo.demo", "demo_model", "napari_dacapo.networks", "demo_model"),
    ("napari_dacapo.demo", "DemoModel", "napari_dacapo.networks", "DemoModel"),
    ("napari_dacapo.examples", "example_config", "napari_dacapo.networks", "example_config"),
    ("napari_dacapo.examples", "example_config_paths", "napari_dacapo.networks", "example_config_paths"),
    ("napari_dacapo.registry", "registry", "napari_dacapo.widgets.registry", "registry"),
    ("napari_dacapo.registry", "NetworkRegistry", "napari_dacapo.widgets.registry", "NetworkRegistry"),
    ("napari_dacapo.registry", "RegisteredNetwork", "napari_dacapo.widgets.registry", "RegisteredNetwork"),
    ("napari_dacapo._zarr_reader", "get_zarr_reader", "napari_dacapo._reader", "get_zarr_reader"),
    ("napari_dacapo._zarr_reader", "zarr_layers", "napari_dacapo._reader", "zarr_layers"),
    ("napari_dacapo.widgets", "ArchitectureDock", "napari_dacapo.widgets.architecture_dock", "ArchitectureDock"),
    ("napari_dacapo.widgets", "PredictionDock", "napari_dacapo.widgets.prediction_dock", "PredictionDock"),
]


@pytest.mark.parametrize("old_module,old_name,new_module,new_name", MOVED, ids=[f"{m[0]}.{m[1]}" for m in MOVED])
def test_a_moved_name_still_imports_as_the_same_object(old_module, old_name, new_module, new_name):
    old = getattr(importlib.import_module(old_module), old_name)
    assert old is getattr(importlib.import_module(new_module), new_name)


def test_the_public_faces_list_what_they_export():
    for name in ("napari_dacapo", "napari_dacapo.tiling", "napari_dacapo.architectures", "napari_dacapo.io"):
        module = importlib.import_module(name)
        for exported in module.__all__:
            assert hasattr(module, exported), f"{name}.__all__ names {exported}, which it lacks"
    assert {"predict", "plan_prediction", "PredictionCancelled"} <= set(napari_dacapo.__all__)


def test_the_manifest_is_a_real_file_inside_the_package_and_npe2_accepts_it():
    from npe2 import PluginManifest

    path = Path(napari_dacapo.__file__).parent / "napari.yaml"
    assert path.is_file() and not path.is_symlink()
    manifest = PluginManifest.from_file(path)
    ids = {command.id for command in manifest.contributions.commands}
    assert {
        "napari-dacapo.architecture_dock",
        "napari-dacapo.prediction_dock",
        "napari-dacapo.em_volume",
        "napari-dacapo.em_image",
        "napari-dacapo.read_config",
        "napari-dacapo.read_zarr",
    } <= ids
    for command in manifest.contributions.commands:  # every python_name resolves
        module, _, attribute = command.python_name.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), command.python_name


def test_the_installed_plugin_is_found_by_npe2():
    from npe2 import PluginManager

    manager = PluginManager.instance()
    manager.discover()
    manifest = manager.get_manifest("napari-dacapo")
    assert manifest.display_name == "napari DaCapo"


def test_no_module_is_over_400_lines():
    root = Path(napari_dacapo.__file__).parent
    long = {str(p.relative_to(root)): n for p in root.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long
