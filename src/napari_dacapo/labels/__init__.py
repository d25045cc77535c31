"""Labels from a prediction with the task's own post-processor — threshold, argmax, or
affinities to instances by mutex watershed — the same in every block, preview and run
(see :mod:`.stitching` for why the IDs are exact). Needs numpy and scipy (and mwatershed
for affinities); no torch, no Qt.
"""

from __future__ import annotations

from .._lazy import lazy_names

_HOMES = {
    "DEFAULT_BLOCK": ".stitching",
    "LabelRule": ".stitching",
    "block_labels": ".segmentation",
    "label_rule": ".segmentation",
    "segment": ".segmentation",
}

__all__ = sorted(_HOMES)

__getattr__, __dir__ = lazy_names(__name__, _HOMES)
