"""A semantic map: what each cell is, how big it is, and where a walker cannot go."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from irlax._pytree import pytree_dataclass, static_field


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
            ValueError: labels out of range, unknown impassable class names, bad shapes.
        """
        labels = np.asarray(labels)
        classes = tuple(str(c) for c in classes)
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
        probs = np.eye(len(classes), dtype=np.float32)[labels]
        return cls.from_probs(probs, classes, cell_size=cell_size, passable=~blocked, extra=extra)

    @classmethod
    def from_probs(
        cls, probs, classes, *, cell_size: float = 1.0, passable=None, extra=None
    ) -> Scene:
        """A scene from `[H, W, K]` class probabilities (e.g. a segmentation network's)."""
        probs = np.asarray(probs, dtype=np.float32)
        classes = tuple(str(c) for c in classes)
        if probs.ndim != 3 or probs.shape[-1] != len(classes):
            raise ValueError(
                f"probs must be [H, W, K] with K = {len(classes)} classes, got {probs.shape}"
            )
        if not np.all(np.isfinite(probs)) or probs.min() < 0:
            raise ValueError("probs must be finite and non-negative")
        if len(set(classes)) != len(classes):
            raise ValueError(f"class names must be unique, got {list(classes)}")
        if not (np.isfinite(cell_size) and cell_size > 0):
            raise ValueError(f"cell_size must be a positive number of metres, got {cell_size}")
        h, w, _ = probs.shape
        passable = np.ones((h, w), bool) if passable is None else np.asarray(passable, bool)
        if passable.shape != (h, w):
            raise ValueError(f"passable must be [H, W] = {(h, w)}, got {passable.shape}")
        if not passable.any():
            raise ValueError("the scene has no passable cell")
        extra = np.zeros((h, w, 0), np.float32) if extra is None else np.asarray(extra, np.float32)
        if extra.ndim != 3 or extra.shape[:2] != (h, w):
            raise ValueError(f"extra features must be [H, W, F] = [{h}, {w}, F], got {extra.shape}")
        if not np.all(np.isfinite(extra)):
            raise ValueError("extra features must be finite")
        return cls(
            probs=jnp.asarray(probs),
            passable=jnp.asarray(passable),
            extra=jnp.asarray(extra),
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
