"""A semantic map: what each cell is, how big it is, and where a walker cannot go."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from irlax._pytree import pytree_dataclass, static_field
from irlax.config import is_real
from irlax.mdp.checks import SUM_TOLERANCE, numeric_array

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _class_names(classes) -> tuple[str, ...]:
    """The class names as a tuple of str, refused unless a non-empty sequence of unique names
    (a single string is refused: it would be read as one class per letter)."""
    if isinstance(classes, str | bytes) or not hasattr(classes, "__iter__"):
        raise ValueError(
            f"classes must be a sequence of class names (wrap one name in a list), got {classes!r}"
        )
    names = tuple(str(c) for c in classes)
    if not names:
        raise ValueError("classes must name at least one class")
    if len(set(names)) != len(names):
        raise ValueError(f"classes must be unique names, got {list(names)}")
    return names


@pytree_dataclass
class Scene:
    """A top-down semantic grid (Kitani et al. 2012, §3: the feature maps).

    Attributes:
        probs: `[H, W, K]` class probabilities per cell: one-hot for a labelled map, soft
            for noisy semantic segmentation.
        passable: bool `[H, W]`; walkers never enter the other cells (e.g. buildings).
        extra: `[H, W, F]` features the user adds (F may be 0).
        classes: the K class names.
        cell_size: metres per cell side.
    """

    probs: jnp.ndarray
    passable: jnp.ndarray
    extra: jnp.ndarray
    classes: tuple[str, ...] = static_field()
    cell_size: float = static_field(default=1.0)

    @classmethod
    def from_labels(
        cls,
        labels,
        classes,
        *,
        cell_size: float = 1.0,
        impassable=(),
        extra=None,
    ) -> Scene:
        """A scene from an `[H, W]` map of class ids.

        Args:
            labels: int `[H, W]`, each entry an index into `classes`.
            classes: the class names.
            cell_size: metres per cell side.
            impassable: names of classes no walker enters.
            extra: optional `[H, W, F]` additional features.

        Raises:
            ValueError: labels out of range, unknown impassable class names, bad shapes,
                no passable cell (naming the argument at fault).
        """
        labels = numeric_array("labels", labels)
        classes = _class_names(classes)
        if isinstance(impassable, str | bytes) or not hasattr(impassable, "__iter__"):
            raise ValueError(
                "impassable must be a sequence of class names (wrap one name in a tuple), got "
                f"{impassable!r}"
            )
        impassable = tuple(impassable)
        if labels.ndim != 2 or labels.size == 0:
            raise ValueError(f"labels must be a non-empty [H, W] map, got shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(f"labels must be integer class ids, got dtype {labels.dtype}")
        if labels.min() < 0 or labels.max() >= len(classes):
            raise ValueError(
                f"labels must lie in [0, {len(classes) - 1}] for the {len(classes)} classes "
                f"{list(classes)}, got values in [{labels.min()}, {labels.max()}]"
            )
        unknown = sorted(set(impassable) - set(classes))
        if unknown:
            raise ValueError(f"impassable classes {unknown} are not among {list(classes)}")
        blocked = np.isin(labels, [classes.index(c) for c in impassable])
        if blocked.all():
            raise ValueError(
                f"every cell is of an impassable class {list(impassable)}: the scene has no "
                "passable cell"
            )
        probs = np.eye(len(classes), dtype=np.float32)[labels]
        return cls.from_probs(probs, classes, cell_size=cell_size, passable=~blocked, extra=extra)

    @classmethod
    def from_probs(
        cls, probs, classes, *, cell_size: float = 1.0, passable=None, extra=None
    ) -> Scene:
        """A scene from `[H, W, K]` class probabilities (e.g. a segmentation network's).

        Args:
            probs: `[H, W, K]` non-negative, each cell's K probabilities summing to 1 (to
                within 1e-4, then renormalised).
            classes: the K class names, unique.
            cell_size: metres per cell side.
            passable: optional bool (or 0/1) `[H, W]`, at least one True; all cells by default.
            extra: optional finite `[H, W, F]` additional features.

        Raises:
            ValueError: naming the argument at fault.
        """
        probs = numeric_array("probs", probs).astype(np.float64)
        classes = _class_names(classes)
        if probs.ndim != 3 or probs.shape[-1] != len(classes) or 0 in probs.shape[:2]:
            raise ValueError(
                f"probs must be a non-empty [H, W, K] with K = {len(classes)} classes, got "
                f"{probs.shape}"
            )
        if not np.all(np.isfinite(probs)) or probs.min() < 0:
            raise ValueError("probs must be finite and non-negative")
        sums = probs.sum(axis=-1)
        off = np.abs(sums - 1) > SUM_TOLERANCE
        if off.any():
            r, c = (int(i) for i in np.argwhere(off)[0])
            raise ValueError(
                f"probs must sum to 1 over the classes in every cell; cell (row={r}, col={c}) "
                f"sums to {sums[r, c]}"
            )
        probs = probs / sums[..., None]
        if not is_real(cell_size) or not (np.isfinite(cell_size) and cell_size > 0):
            raise ValueError(f"cell_size must be a positive number of metres, got {cell_size!r}")
        h, w, _ = probs.shape
        if passable is None:
            passable = np.ones((h, w), bool)
        else:
            passable = numeric_array("passable", passable)
            if passable.dtype != bool and not np.isin(passable, (0, 1)).all():
                raise ValueError("passable must be boolean (or 0 and 1)")
            passable = passable.astype(bool)
        if passable.shape != (h, w):
            raise ValueError(f"passable must be [H, W] = {(h, w)}, got {passable.shape}")
        if not passable.any():
            raise ValueError("the scene has no passable cell (passable is all False)")
        if extra is None:
            extra = np.zeros((h, w, 0))
        extra = numeric_array("extra", extra).astype(np.float64)
        if extra.ndim != 3 or extra.shape[:2] != (h, w):
            raise ValueError(f"extra features must be [H, W, F] = [{h}, {w}, F], got {extra.shape}")
        if not np.all(np.isfinite(extra)) or np.abs(extra).max(initial=0) > _FLOAT32_MAX:
            raise ValueError("extra features must be finite (in float32)")
        return cls(
            probs=jnp.asarray(probs, jnp.float32),
            passable=jnp.asarray(passable),
            extra=jnp.asarray(extra, jnp.float32),
            classes=classes,
            cell_size=float(cell_size),
        )

    @property
    def shape(self) -> tuple[int, int]:
        """`(H, W)`."""
        return tuple(self.probs.shape[:2])

    @property
    def labels(self) -> np.ndarray:
        """`[H, W]` most probable class per cell."""
        return np.asarray(jnp.argmax(self.probs, axis=-1))

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the columns of `features`."""
        extra = tuple(f"extra{i}" for i in range(self.extra.shape[-1]))
        return (*self.classes, *extra, "bias")

    @property
    def features(self) -> jnp.ndarray:
        """`[H, W, K + F + 1]`: class probabilities, the user's features, and a bias of 1."""
        bias = jnp.ones((*self.shape, 1), self.probs.dtype)
        return jnp.concatenate([self.probs, self.extra.astype(self.probs.dtype), bias], axis=-1)

    def cell(self, rows, cols):
        """Flat cell indices `row * W + col`."""
        return np.asarray(rows) * self.shape[1] + np.asarray(cols)
