"""`napari-dacapo info`: the summary a user sees, from hand-derived numbers."""

import subprocess
import sys

from napari_dacapo.cli import main


def test_info_on_a_bundled_example(capsys):
    assert main(["info", "cellmap_unet3d"]) == 0
    out = capsys.readouterr().out
    # three (2,2,2) levels, 3-convs: 132 -> 40 and 196 -> 104, context 92
    assert "132 × 132 × 132 → 40 × 40 × 40" in out
    assert "196 × 196 × 196 → 104 × 104 × 104" in out
    assert "context:            92 × 92 × 92" in out


def test_info_on_super_resolution_example(capsys):
    assert main(["info", "superres_unet3d"]) == 0
    assert "input voxel size / (2 × 2 × 2)" in capsys.readouterr().out


def test_info_reports_errors_in_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "absent.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("napari-dacapo: error:") and "absent.yaml" in err


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "napari_dacapo", "info", "unet2d"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "252 × 252 → 212 × 212" in result.stdout
