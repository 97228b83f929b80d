"""Pictures: heatmaps over grids with paths drawn on them (matplotlib, headless)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # never needs a display; set before pyplot is imported

import matplotlib.pyplot as plt
import numpy as np


def grid_heatmap(ax, values, title: str, *, cmap: str = "viridis", log: bool = False, label=""):
    """Draw `[H, W]` values as an image with a colour bar.

    Args:
        ax: a matplotlib axis.
        values: `[H, W]` array (row 0 at the top).
        title: axis title.
        cmap: colour map name.
        log: colour by log10 of the values (zeros shown at the smallest positive value).
        label: colour bar label.
    """
    values = np.asarray(values, dtype=float)
    if log:
        positive = values[values > 0]
        floor = positive.min() if positive.size else 1e-12
        values = np.log10(np.maximum(values, floor))
        label = f"log10 {label}".strip()
    image = ax.imshow(values, cmap=cmap, interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    plt.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=label)
    return image


def draw_paths(ax, states, lengths, width: int, *, color="white", alpha=0.7):
    """Overlay trajectories of grid cells (`state = row * width + col`) on an axis."""
    for path, n in zip(np.asarray(states), np.asarray(lengths), strict=True):
        rows, cols = np.divmod(path[: n + 1], width)
        jitter = np.random.default_rng(int(path[0])).normal(0, 0.08, size=(2, len(rows)))
        ax.plot(cols + jitter[1], rows + jitter[0], color=color, alpha=alpha, linewidth=1)
        ax.plot(cols[0], rows[0], "o", color=color, markersize=3)


def save(fig, path) -> None:
    """Save a figure and close it."""
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
