"""Exporting a network to other tools: :func:`export_bioimageio` writes a bioimage.io model
package; :func:`open_package` opens one that napari-dacapo wrote (round trip, exact).

Importing this package loads nothing heavy; the export module needs the ``bioimageio`` extra
(opening a package does not).
"""

from __future__ import annotations

from .._lazy import lazy_names

_HOMES = {
    "export_bioimageio": ".bioimageio",
    "ImportedPackage": ".importing",
    "PackageError": ".importing",
    "is_dacapo_package": ".importing",
    "open_package": ".importing",
}
__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(__name__, _HOMES)
