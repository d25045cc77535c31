"""The installed package's metadata is what the napari hub and PyPI need, and it declares
exactly what the code imports."""

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

import tomllib
import yaml

import napari_dacapo

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "napari_dacapo"
META = metadata.metadata("napari-dacapo")


OPTIONAL = {"export": "bioimageio"}  # subpackages that need an extra: the extra they need


def requirement_names(extra: str | None = None) -> dict[str, str]:
    """Runtime requirements (and ``extra``'s) by normalised name → the requirement text."""
    names = {}
    for requirement in metadata.requires("napari-dacapo") or []:
        marker = requirement.split(";", 1)[1].replace('"', "'") if ";" in requirement else ""
        if "extra ==" in marker and f"extra == '{extra}'" not in marker:
            continue
        name = re.split(r"[ <>=!~;\[]", requirement, maxsplit=1)[0]
        names[re.sub(r"[-_.]+", "-", name).lower()] = requirement
    return names


def test_the_hub_finds_source_documentation_support_and_bug_tracker_urls():
    labels = {entry.split(",", 1)[0].strip() for entry in META.get_all("Project-URL")}
    assert {"Source Code", "Documentation", "User Support", "Bug Tracker"} <= labels


def test_license_is_an_spdx_expression_with_the_file_packed():
    assert META["License-Expression"] == "BSD-3-Clause"
    assert "LICENSE" in (META.get_all("License-File") or [])


def test_classifiers_say_status_audience_os_and_python_versions():
    classifiers = META.get_all("Classifier")
    for prefix in ("Development Status ::", "Intended Audience ::", "Operating System ::", "Framework :: napari"):
        assert any(c.startswith(prefix) for c in classifiers), prefix
    assert f"Programming Language :: Python :: 3.{sys.version_info.minor}" in classifiers


def test_the_version_comes_from_git_and_the_package_reports_it():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["source"] == "vcs"
    assert napari_dacapo.__version__ == metadata.version("napari-dacapo")


def third_party_imports(subpackage: str | None = None) -> set[str]:
    """Top-level modules the package's code (or one subpackage's) imports, other than itself
    and the standard library; without ``subpackage``, the optional subpackages are left out."""
    found = set()
    for path in (SOURCE / subpackage if subpackage else SOURCE).rglob("*.py"):
        if subpackage is None and path.relative_to(SOURCE).parts[0] in OPTIONAL:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"napari_dacapo", "__future__"}


def test_every_imported_library_is_a_declared_requirement_and_nothing_unused_is():
    distributions = metadata.packages_distributions()
    declared = requirement_names()
    needed = set()
    for module in third_party_imports():
        names = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
        assert names & set(declared), f"{module} is imported but none of {names} is a requirement"
        needed |= names & set(declared)
    # declared but not imported: only the ones that are there on purpose
    extra = set(declared) - needed
    assert extra <= {"pyyaml", "dask"}, extra  # both are imported under another name (yaml, dask.array)
    assert "tqdm" not in declared and "npe2" not in declared
    assert re.search(r"zarr>=3", declared["zarr"]), declared["zarr"]
    assert re.search(r"torch>=2\.\d+$", declared["torch"].replace(" ", "")), "torch stays a range"


def test_an_optional_subpackage_imports_only_what_its_extra_declares():
    distributions = metadata.packages_distributions()
    for subpackage, extra in OPTIONAL.items():
        declared = requirement_names(extra)
        for module in third_party_imports(subpackage):
            names = {re.sub(r"[-_.]+", "-", d).lower() for d in distributions.get(module, [module])}
            assert names & set(declared), f"{subpackage}/ imports {module}, not in [{extra}] nor the requirements"


def test_the_manifest_is_a_file_inside_the_package_and_claims_no_n5():
    manifest = SOURCE / "napari.yaml"
    entry_points = [e for e in metadata.entry_points(group="napari.manifest") if e.name == "napari-dacapo"]
    assert entry_points and entry_points[0].value == "napari_dacapo:napari.yaml"
    readers = yaml.safe_load(manifest.read_text())["contributions"]["readers"]
    patterns = [p for reader in readers for p in reader["filename_patterns"]]
    assert patterns and not any("n5" in p for p in patterns)


def test_readme_images_use_absolute_urls_the_hub_can_show():
    readme = (ROOT / "README.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", readme) + re.findall(r'<img[^>]+src="([^"]+)"', readme)
    assert images
    assert all(url.startswith("https://") for url in images), images
