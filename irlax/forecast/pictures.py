"""Pictures of activity forecasts: semantic maps, cost maps, heatmaps, destinations.

Every `draw_*` function renders one PNG (matplotlib, headless, via `irlax.plots`) and closes
its figure. Inputs may be numpy or JAX arrays. Maps are drawn in metres (kilometres for maps
5 km across or more) using `scene.cell_size`, row 0 at the top; a path cell `(row, col)` is
drawn at its centre.

`text_report` formats `evaluate.evaluate`'s metrics as a plain-text table.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import matplotlib.colors as mcolors
import matplotlib.patheffects as pe
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from mpl_toolkits.axes_grid1 import make_axes_locatable

from irlax import plots  # sets the Agg backend; none of the imports above loads pyplot

plt = plots.plt

#: Colours of known classes: the street scene's (`street.CLASSES`) and New York Harbor's
#: (land, then water in distance-to-shore bands, deeper blues further out).
CLASS_COLORS: dict[str, str] = {
    "road": "#5f6368",
    "sidewalk": "#ddd6c8",
    "crosswalk": "#f6d54a",
    "grass": "#8cc66b",
    "parking": "#a9a3c9",
    "building": "#9b6b52",
    "land": "#e3d7b4",
    "water": "#6baed6",
    "water_0_250m": "#b3d7ef",
    "water_250_750m": "#6aaed6",
    "water_750m_plus": "#2b72b4",
}

DESTINATION_COLOR = "#d81b60"
PREFIX_COLOR = "#0b3d91"
SAMPLE_COLOR = "#00a5b8"
TRACK_COLOR = "#e8590c"
IMPASSABLE_COLOR = "#c8c8c8"
_MAX_TRACKS = 60
_METRICS = (  # (key, header, lower is better)
    ("nll_per_step", "nll_per_step", True),
    ("mhd", "mhd [m]", True),
    ("destination_accuracy", "destination_accuracy", False),
)


def class_colors(classes) -> list[str]:
    """A hex colour per class: `CLASS_COLORS` where known, else tab20 in order."""
    fallback = plt.get_cmap("tab20").colors
    out, k = [], 0
    for name in classes:
        if name in CLASS_COLORS:
            out.append(CLASS_COLORS[name])
        else:
            out.append(mcolors.to_hex(fallback[k % len(fallback)]))
            k += 1
    return out


def class_colormap(classes) -> mcolors.ListedColormap:
    """A colour map with one colour per class: draw labels with `vmin=-0.5, vmax=K-0.5`."""
    classes = tuple(classes)
    return mcolors.ListedColormap(class_colors(classes) or ["#000000"], name="classes")


# --------------------------------------------------------------------------- helpers


def _units(scene) -> tuple[float, str]:
    """(drawing units per cell, unit name): metres, or km for maps ≥ 5 km across."""
    h, w = scene.shape
    extent = max(h, w) * scene.cell_size
    return (scene.cell_size / 1000.0, "km") if extent >= 5000 else (scene.cell_size, "m")


def _line_width(n: int, small: float, large: float) -> float:
    """A line width for a view `n` cells across: `large` at ≤ 48 cells, `small` at ≥ 256."""
    t = min(max((n - 48) / (256 - 48), 0.0), 1.0)
    return large + t * (small - large)


def _map_inches(h: int, w: int) -> tuple[float, float]:
    """Width and height in inches of a map axis `h × w` cells: larger for larger maps."""
    t = min(max((max(h, w) - 64) / (256 - 64), 0.0), 1.0)
    side = 5.6 + 2.2 * t
    return side * min(1.0, w / h), side * min(1.0, h / w)


def _scene_rgb(scene, fade: float = 0.0) -> np.ndarray:
    """`[H, W, 3]` class colours, impassable cells darkened, blended `fade` towards white."""
    rgb = np.asarray([mcolors.to_rgb(c) for c in class_colors(scene.classes)])[scene.labels]
    passable = np.asarray(scene.passable, bool)
    rgb[~passable] *= 0.85
    return rgb * (1 - fade) + fade


def _map_axis(ax, scene, *, fade: float = 0.0, image=True):
    """Draw the semantic map (when `image`) and set up the axis in metres (or km)."""
    step, unit = _units(scene)
    h, w = scene.shape
    extent = (0, w * step, h * step, 0)
    if image:
        ax.imshow(_scene_rgb(scene, fade), extent=extent, interpolation="nearest")
    ax.set_xlim(0, w * step)
    ax.set_ylim(h * step, 0)
    ax.set_aspect("equal")
    ax.set_xlabel(f"x [{unit}]")
    ax.set_ylabel(f"y [{unit}]")
    ax.tick_params(labelsize=8)
    return step, extent


def _xy(cells, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres of `[n, 2]` (row, col) cells in drawing units."""
    cells = np.asarray(cells).reshape(-1, 2)
    return (cells[:, 1] + 0.5) * step, (cells[:, 0] + 0.5) * step


def _goals(goals, shape) -> np.ndarray:
    goals = np.asarray(goals, bool)
    if goals.ndim == 2:
        goals = goals[None]
    if goals.ndim != 3 or goals.shape[1:] != tuple(shape):
        raise ValueError(f"goals must be [G, H, W] with [H, W] = {shape}, got {goals.shape}")
    return goals


def _goal_names(goal_names, n: int) -> list[str]:
    if goal_names is None:
        return [f"goal {i}" for i in range(n)]
    names = [str(x) for x in goal_names]
    if len(names) != n:
        raise ValueError(f"{len(names)} goal names for {n} goals")
    return names


def _outline_segments(mask, step: float) -> np.ndarray:
    """`[n, 2, 2]` cell-edge segments bounding the True cells of a bool `[H, W]` mask."""
    m = np.pad(np.asarray(mask, bool), 1)
    vertical = np.nonzero(m[1:-1, 1:] != m[1:-1, :-1])  # edge left of column c (c in 0..W)
    horizontal = np.nonzero(m[1:, 1:-1] != m[:-1, 1:-1])  # edge above row r (r in 0..H)
    r, c = vertical
    v = np.stack([np.stack([c, r], -1), np.stack([c, r + 1], -1)], 1)
    r, c = horizontal
    hz = np.stack([np.stack([c, r], -1), np.stack([c + 1, r], -1)], 1)
    return np.concatenate([v, hz]).astype(float) * step


def _goal_centres(goals, step: float) -> np.ndarray:
    """`[G, 2]` (x, y) centre of each goal region (NaN for an empty one)."""
    out = np.full((len(goals), 2), np.nan)
    for k, g in enumerate(goals):
        rows, cols = np.nonzero(g)
        if rows.size:
            out[k] = (cols.mean() + 0.5) * step, (rows.mean() + 0.5) * step
    return out


def _draw_goal_regions(ax, goals, step: float, *, fill_alpha=0.35, linewidth=1.0, color=None):
    color = DESTINATION_COLOR if color is None else color
    any_goal = goals.any(axis=0)
    if not any_goal.any():
        return
    rgba = np.zeros((*any_goal.shape, 4))
    rgba[any_goal] = (*mcolors.to_rgb(color), fill_alpha)
    h, w = any_goal.shape
    ax.imshow(rgba, extent=(0, w * step, h * step, 0), interpolation="nearest")
    segments = np.concatenate([_outline_segments(g, step) for g in goals])
    ax.add_collection(LineCollection(segments, colors=color, linewidths=linewidth))


def _label_goals(ax, centres, names, scene, step: float, fontsize: float) -> int:
    """Small labels beside each goal, pushed towards the map's centre.

    A label that would overlap one already placed tries the other seven directions and is
    left out when none is free. Returns how many were left out.
    """
    h, w = scene.shape
    cx, cy = w * step / 2, h * step / 2
    outline = [pe.withStroke(linewidth=2.2, foreground="white")]
    renderer = ax.figure.canvas.get_renderer()
    angles = np.arange(8) * np.pi / 4
    placed, omitted = [], 0
    for (x, y), name in zip(centres, names, strict=True):
        if not np.isfinite(x):
            continue
        dx, dy = (cx - x) / (w * step), (cy - y) / (h * step)
        first = math.atan2(dy, dx) if (dx or dy) else 0.0
        # the preferred direction first, then the others by how far they turn from it
        order = sorted(angles, key=lambda a: abs(math.remainder(a - first, 2 * math.pi)))
        for k, angle in enumerate([first, *order]):
            ux, uy = math.cos(angle), math.sin(angle)
            text = ax.annotate(
                name,
                (x, y),
                xytext=(7 * ux, -7 * uy),  # points; screen y points up, rows grow downwards
                textcoords="offset points",
                ha="left" if ux > 0.35 else "right" if ux < -0.35 else "center",
                va="top" if uy > 0.35 else "bottom" if uy < -0.35 else "center",
                fontsize=fontsize,
                color="#5c0a2e",
                path_effects=outline,
                annotation_clip=False,
            )
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            text.remove()
            if k == len(order):
                omitted += 1
    return omitted


def _class_legend(ax, scene, *, extra=(), loc="upper left"):
    labels = np.asarray(scene.labels)
    passable = np.asarray(scene.passable, bool)
    handles = []
    for k, (name, color) in enumerate(zip(scene.classes, class_colors(scene.classes), strict=True)):
        cells = labels == k
        if not cells.any():
            continue
        if not passable[cells].any():
            name = f"{name} (impassable)"
        handles.append(Patch(facecolor=color, edgecolor="#555555", linewidth=0.5, label=name))
    handles.extend(extra)
    ax.legend(
        handles=handles,
        loc=loc,
        bbox_to_anchor=(1.02, 1.0),
        fontsize=8,
        frameon=False,
        borderaxespad=0.0,
    )


def _side_colorbar(ax, mappable):
    """A colour bar right of `ax`, exactly as tall as it (for equal-aspect maps)."""
    cax = make_axes_locatable(ax).append_axes("right", size="4%", pad=0.12)
    return ax.figure.colorbar(mappable, cax=cax)


def _path(ax, cells, step, **kwargs):
    x, y = _xy(cells, step)
    return ax.plot(x, y, **kwargs)


def _track_lines(paths, step: float, limit: int) -> list[np.ndarray]:
    paths = [] if paths is None else [np.asarray(p).reshape(-1, 2) for p in paths]
    paths = [p for p in paths if len(p)]
    if len(paths) > limit:
        keep = np.random.default_rng(0).choice(len(paths), limit, replace=False)
        paths = [paths[i] for i in sorted(keep)]
    return [np.stack(_xy(p, step), -1) for p in paths]


def _closes_figures(draw):
    """Close the figures a drawing opened when it fails (it closes them itself on success)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        before = set(plt.get_fignums())
        try:
            return draw(*args, **kwargs)
        except BaseException:
            for num in set(plt.get_fignums()) - before:
                plt.close(num)
            raise

    return wrapper


# --------------------------------------------------------------------------- pictures


@_closes_figures
def draw_scene(path, scene, goals, *, goal_names=None, paths=None, title=None) -> None:
    """The semantic map with its destinations and (a sample of) tracks.

    Args:
        path: PNG file to write.
        scene: a `Scene`.
        goals: bool `[G, H, W]` destination regions (or one `[H, W]` region).
        goal_names: a label per destination (default "goal i"); with more than 16
            destinations they are labelled by index.
        paths: optional int `[n_i, 2]` (row, col) tracks; at most 60 are drawn, thinly.
        title: figure title.
    """
    goals = _goals(goals, scene.shape)
    names = _goal_names(goal_names, len(goals))
    mw, mh = _map_inches(*scene.shape)
    fig, ax = plt.subplots(figsize=(mw + 2.4, mh + 0.8))
    step, _ = _map_axis(ax, scene)
    extra = []
    lines = _track_lines(paths, step, _MAX_TRACKS)
    if lines:
        lw = _line_width(max(scene.shape), 0.6, 1.0)
        ax.add_collection(LineCollection(lines, colors=TRACK_COLOR, linewidths=lw, alpha=0.65))
        total = sum(1 for p in paths if np.size(p))
        shown = f"{len(lines)} of {total}" if len(lines) < total else f"{len(lines)}"
        extra.append(Line2D([], [], color=TRACK_COLOR, lw=1.2, label=f"tracks ({shown})"))
    _draw_goal_regions(ax, goals, step, linewidth=_line_width(max(scene.shape), 0.6, 1.2))
    centres = _goal_centres(goals, step)
    if max(scene.shape) > 96:  # regions of a few cells vanish on a big map: mark them too
        ax.scatter(*centres.T, s=16, c=DESTINATION_COLOR, edgecolors="white", linewidths=0.6)
    labels = names if len(goals) <= 16 else [str(i) for i in range(len(goals))]
    omitted = _label_goals(ax, centres, labels, scene, step, fontsize=6.5)
    extra.append(
        Patch(
            facecolor=mcolors.to_rgba(DESTINATION_COLOR, 0.35),
            edgecolor=DESTINATION_COLOR,
            label=f"destinations ({len(goals)})"
            + (f"\n({omitted} crowded labels left out)" if omitted else ""),
        )
    )
    _class_legend(ax, scene, extra=extra)
    h, w = scene.shape
    sub = f"{h}×{w} cells of {scene.cell_size:g} m"
    ax.set_title(f"{title}\n{sub}" if title else sub, fontsize=11)
    plots.save(fig, path)


def _class_means(scene, cost) -> tuple[list[str], np.ndarray]:
    labels = np.asarray(scene.labels)
    passable = np.asarray(scene.passable, bool)
    cost = np.asarray(cost, float)
    names, means = [], []
    for k, name in enumerate(scene.classes):
        cells = (labels == k) & passable
        if cells.any():
            names.append(name)
            means.append(cost[cells].mean())
    return names, np.asarray(means)


@_closes_figures
def draw_costs(path, scene, learned_cost, *, true_cost=None, title=None) -> None:
    """The learned cost map (beside the true one, on one colour scale) and per-class means.

    Impassable cells are greyed out and left out of the colour scale and the class means
    (a class none of whose cells is passable is left out of the bar chart).

    Args:
        path: PNG file to write.
        scene: a `Scene`.
        learned_cost: `[H, W]` learned cost per move (e.g. `ForecastModel.cost`).
        true_cost: optional `[H, W]` true cost, e.g. a `StreetScene.true_cost`.
        title: figure title.
    """
    passable = np.asarray(scene.passable, bool)
    maps = [("learned cost", np.asarray(learned_cost, float))]
    if true_cost is not None:
        maps.append(("true cost", np.asarray(true_cost, float)))
    for name, cost in maps:
        if cost.shape != tuple(scene.shape):
            raise ValueError(f"{name} must be [H, W] = {scene.shape}, got {cost.shape}")
    values = np.concatenate([c[passable] for _, c in maps])
    values = values[np.isfinite(values)]
    vmin, vmax = (values.min(), values.max()) if values.size else (0.0, 1.0)
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    cmap = plt.get_cmap("magma").with_extremes(bad=IMPASSABLE_COLOR)

    n = len(maps)
    h, w = scene.shape
    map_w = 3.9 * min(1.0, w / h) if h else 3.9
    fig = plt.figure(figsize=(map_w * n + 5.2, 4.6))
    grid = fig.add_gridspec(
        1, n + 3, width_ratios=[map_w] * n + [0.16, 0.9, 3.6], wspace=0.12, top=0.84
    )
    axes = [fig.add_subplot(grid[0, i]) for i in range(n)]
    image = None
    for ax, (name, cost) in zip(axes, maps, strict=True):
        _, extent = _map_axis(ax, scene, image=False)
        shown = np.where(passable, cost, np.nan)
        image = ax.imshow(
            shown, extent=extent, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest"
        )
        ax.set_title(name, fontsize=10)
    for ax in axes[1:]:
        ax.set_ylabel("")
        ax.tick_params(labelleft=False)
    cax = fig.add_subplot(grid[0, n])
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("cost per move", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    fig.canvas.draw()  # keep the colour bar as tall as the (equal-aspect) maps
    box = axes[0].get_position()
    cb = cax.get_position()
    cax.set_position([cb.x0, box.y0, cb.width, box.height])
    if not passable.all():
        axes[0].legend(
            handles=[Patch(facecolor=IMPASSABLE_COLOR, edgecolor="#888888", label="impassable")],
            loc="upper left",
            bbox_to_anchor=(0.0, -0.13),
            fontsize=8,
            frameon=False,
        )

    ax = fig.add_subplot(grid[0, n + 2])
    names, learned = _class_means(scene, maps[0][1])
    pos = np.arange(len(names))
    width = 0.4 if true_cost is not None else 0.6
    shift = width / 2 if true_cost is not None else 0.0
    ax.bar(pos - shift, learned, width, color=class_colors(names), edgecolor="#333333", lw=0.6)
    highest = learned.max(initial=0.0)
    if true_cost is not None:
        _, true = _class_means(scene, maps[1][1])
        ax.bar(pos + shift, true, width, color="white", edgecolor="#333333", lw=0.8, hatch="////")
        highest = max(highest, true.max(initial=0.0))
        handles = [
            Patch(facecolor="#9aa0a6", edgecolor="#333333", label="learned"),
            Patch(facecolor="white", edgecolor="#333333", hatch="////", label="true"),
        ]
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper right", ncol=2)
    if np.isfinite(highest) and highest > 0:
        ax.set_ylim(top=highest * 1.2)  # room for the legend
    ax.set_xticks(pos, names, rotation=35, ha="right", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_ylabel("mean cost per move", fontsize=9)
    what = "mean per class" if true_cost is not None else "mean learned cost per class"
    ax.set_title(f"{what} (passable cells)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    bars = ax.get_position()
    ax.set_position([bars.x0, box.y0, bars.width, box.height])
    fig.suptitle(title or "cost maps", fontsize=12, y=min(0.99, box.y1 + 0.13))
    plots.save(fig, path)


def _window(scene, heat_mask, paths, zoom) -> tuple[int, int, int, int]:
    """Rows `[r0, r1)` and columns `[c0, c1)` to show: the map, or a window around what matters."""
    h, w = scene.shape
    full = (0, h, 0, w)
    if zoom is False or (zoom is None and max(h, w) <= 96):
        return full
    cells = [np.asarray(p).reshape(-1, 2) for p in paths]
    if heat_mask is not None:
        cells.append(np.argwhere(heat_mask))
    cells = np.concatenate(cells) if cells else np.zeros((0, 2))
    if not len(cells):
        return full
    lo, hi = cells.min(0), cells.max(0) + 1
    side = max(int((hi - lo).max() * 1.2) + 8, 40)
    if zoom is None and side >= 0.7 * max(h, w):
        return full
    centre = (lo + hi) / 2
    out = []
    for c, n in zip(centre, (h, w), strict=True):
        size = min(side, n)
        start = int(np.clip(round(c - size / 2), 0, n - size))
        out += [start, start + size]
    return tuple(out)


@_closes_figures
def draw_forecast(
    path, scene, forecast, prefix, continuation, *, title=None, zoom: bool | None = None
) -> None:
    """A forecast over the faded map: heatmap, observed prefix, true continuation, samples.

    Args:
        path: PNG file to write.
        scene: a `Scene`.
        forecast: a `Forecast` (`heatmap` `[H, W]`, `samples` `[K, T+1, 2]`,
            `sample_lengths` `[K]`).
        prefix: int `[n, 2]` (row, col) observed cells.
        continuation: int `[m, 2]` the true rest of the track (None or empty: not drawn).
        title: figure title.
        zoom: show only the window around the paths and the heatmap's visible cells; None
            (default): zoom when that window is under 70% of a map over 96 cells across.
    """
    heat = np.asarray(forecast.heatmap, float)
    if heat.shape != tuple(scene.shape):
        raise ValueError(f"heatmap must be [H, W] = {scene.shape}, got {heat.shape}")
    prefix = np.asarray(prefix).reshape(-1, 2)
    continuation = np.zeros((0, 2)) if continuation is None else np.asarray(continuation)
    continuation = continuation.reshape(-1, 2)
    samples = np.asarray(forecast.samples).reshape(-1, *np.shape(forecast.samples)[-2:])
    lengths = np.asarray(forecast.sample_lengths).reshape(-1)

    top = np.nanmax(heat) if np.isfinite(heat).any() else 0.0
    floor = top * 1e-3
    paths = [prefix, continuation]
    paths += [c[: max(int(n), 0) + 1] for c, n in zip(samples, lengths, strict=True)]
    window = _window(scene, np.nan_to_num(heat) >= floor if top > 0 else None, paths, zoom)
    across = max(window[1] - window[0], window[3] - window[2])

    mw, mh = _map_inches(window[1] - window[0], window[3] - window[2])
    fig, ax = plt.subplots(figsize=(mw + 1.6, mh + 1.0))
    step, extent = _map_axis(ax, scene, fade=0.6)
    if window != (0, scene.shape[0], 0, scene.shape[1]):
        ax.set_xlim(window[2] * step, window[3] * step)
        ax.set_ylim(window[1] * step, window[0] * step)
    cmap = plt.get_cmap("YlOrRd")
    if top > 0:
        norm = mcolors.LogNorm(vmin=floor, vmax=top)
        shown = np.clip(np.nan_to_num(heat), norm.vmin, norm.vmax)
        t = np.clip(np.asarray(norm(shown), float), 0.0, 1.0)
        rgba = cmap(t)
        rgba[..., 3] = np.where(np.nan_to_num(heat) >= norm.vmin, 0.35 + 0.6 * t, 0.0)
        ax.imshow(rgba, extent=extent, interpolation="nearest")
        bar = _side_colorbar(ax, plt.cm.ScalarMappable(norm=norm, cmap=cmap))
        bar.set_label("expected visits (log scale)", fontsize=9)
        bar.ax.tick_params(labelsize=8)
    else:
        ax.text(0.5, 0.02, "empty heatmap", transform=ax.transAxes, ha="center", fontsize=9)

    thin = _line_width(across, 0.6, 1.1)
    lines = []
    for cells, n in zip(samples, lengths, strict=True):
        cells = cells[: max(int(n), 0) + 1]
        if len(cells) > 1:
            lines.append(np.stack(_xy(cells, step), -1))
    if lines:
        ax.add_collection(LineCollection(lines, colors=SAMPLE_COLOR, linewidths=thin, alpha=0.8))
    halo = [pe.Stroke(linewidth=_line_width(across, 2.6, 4.2), foreground="white"), pe.Normal()]
    bold = _line_width(across, 1.4, 2.2)
    if len(continuation):
        _path(
            ax, continuation, step, color=PREFIX_COLOR, lw=bold, ls=(0, (3, 2)), path_effects=halo
        )
    if len(prefix):
        _path(
            ax, prefix, step, color=PREFIX_COLOR, lw=bold, path_effects=halo, solid_capstyle="round"
        )
        x, y = _xy(prefix, step)
        ax.plot(x[0], y[0], "o", ms=7, mfc="white", mec=PREFIX_COLOR, mew=1.8, zorder=5)
        ax.plot(x[-1], y[-1], "D", ms=7, mfc=PREFIX_COLOR, mec="white", mew=1.2, zorder=5)
    if len(continuation):
        x, y = _xy(continuation[-1:], step)
        ax.plot(x, y, "X", ms=8, mfc="white", mec=PREFIX_COLOR, mew=1.4, zorder=5)

    handles = [
        Line2D(
            [], [], color=PREFIX_COLOR, lw=2, label=f"observed ({max(len(prefix) - 1, 0)} moves)"
        ),
        Line2D([], [], color=PREFIX_COLOR, lw=2, ls=(0, (3, 2)), label="true continuation"),
        Line2D([], [], color=SAMPLE_COLOR, lw=1.2, label=f"sampled paths ({len(lines)})"),
        Line2D([], [], ls="", marker="o", ms=7, mfc="white", mec=PREFIX_COLOR, label="start"),
        Line2D([], [], ls="", marker="D", ms=6, mfc=PREFIX_COLOR, mec="white", label="now"),
        Line2D([], [], ls="", marker="X", ms=7, mfc="white", mec=PREFIX_COLOR, label="true end"),
    ]
    if not len(continuation):
        handles = [h for h in handles if h.get_label() not in ("true continuation", "true end")]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.09),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    ax.set_title(title or "forecast", fontsize=11)
    plots.save(fig, path)


@_closes_figures
def draw_destinations(
    path, scene, goals, posterior, *, prefix=None, true_goal=None, goal_names=None
) -> None:
    """The destination posterior on the map (circles) and as a bar chart of the top ten.

    Args:
        path: PNG file to write.
        scene: a `Scene`.
        goals: bool `[G, H, W]` destination regions.
        posterior: `[G]` p(goal | prefix) (e.g. `Forecast.goal_posterior`).
        prefix: optional int `[n, 2]` observed cells.
        true_goal: optional index of the true destination, highlighted.
        goal_names: a label per destination (default "goal i").
    """
    goals = _goals(goals, scene.shape)
    names = _goal_names(goal_names, len(goals))
    post = np.nan_to_num(np.asarray(posterior, float).reshape(-1), nan=0.0)
    if post.shape != (len(goals),):
        raise ValueError(f"posterior must be [G] = [{len(goals)}], got {post.shape}")
    top = post.max(initial=0.0)
    top = top if top > 1e-9 else 1.0  # colour scale and bar lengths up to the largest

    fig = plt.figure(figsize=(12.6, 5.8))
    grid = fig.add_gridspec(1, 2, width_ratios=[1.45, 1], wspace=0.5)
    ax = fig.add_subplot(grid[0, 0])
    step, _ = _map_axis(ax, scene, fade=0.55)
    _draw_goal_regions(ax, goals, step, fill_alpha=0.2, linewidth=0.6, color="#7a6f7a")
    centres = _goal_centres(goals, step)
    cmap = plt.get_cmap("plasma_r")
    norm = mcolors.Normalize(0.0, top)
    base = 900 * min(1.0, 12 / max(len(goals), 1)) ** 0.5
    sizes = 12 + base * post / top
    order = np.argsort(post)  # big circles last, on top
    ok = np.isfinite(centres[order, 0])
    ax.scatter(
        centres[order][ok, 0],
        centres[order][ok, 1],
        s=sizes[order][ok],
        c=post[order][ok],
        cmap=cmap,
        norm=norm,
        alpha=0.8,
        edgecolors="black",
        linewidths=0.6,
        zorder=4,
        clip_on=False,
    )
    bar = _side_colorbar(ax, plt.cm.ScalarMappable(norm=norm, cmap=cmap))
    bar.set_label("p(destination | observed)", fontsize=9)
    bar.ax.tick_params(labelsize=8)
    handles = []
    if prefix is not None and len(np.asarray(prefix).reshape(-1, 2)):
        prefix = np.asarray(prefix).reshape(-1, 2)
        halo = [pe.Stroke(linewidth=4, foreground="white"), pe.Normal()]
        _path(ax, prefix, step, color=PREFIX_COLOR, lw=2, path_effects=halo, zorder=5)
        x, y = _xy(prefix, step)
        ax.plot(x[0], y[0], "o", ms=6, mfc="white", mec=PREFIX_COLOR, mew=1.6, zorder=6)
        ax.plot(x[-1], y[-1], "D", ms=6, mfc=PREFIX_COLOR, mec="white", mew=1.0, zorder=6)
        handles.append(Line2D([], [], color=PREFIX_COLOR, lw=2, label="observed"))
        handles.append(
            Line2D([], [], ls="", marker="D", ms=6, mfc=PREFIX_COLOR, mec="white", label="now")
        )
    if true_goal is not None and 0 <= int(true_goal) < len(goals):
        g = int(true_goal)
        _draw_goal_regions(
            ax, goals[g : g + 1], step, fill_alpha=0.5, linewidth=1.6, color="#1b9e3e"
        )
        x, y = centres[g]
        if np.isfinite(x):
            ax.scatter(
                [x],
                [y],
                s=sizes[g] + 260,
                facecolors="none",
                edgecolors="#1b9e3e",
                linewidths=2.2,
                zorder=5,
                clip_on=False,
            )
        handles.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                ms=10,
                mfc="none",
                mec="#1b9e3e",
                mew=2,
                label=f"true: {names[g]}",
            )
        )
    handles.append(
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            ms=9,
            mfc=cmap(0.6),
            mec="black",
            alpha=0.8,
            label="posterior (area)",
        )
    )
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    ax.set_title("destination posterior", fontsize=11)

    ax = fig.add_subplot(grid[0, 1])
    k = min(10, len(goals))
    best = np.argsort(-post, kind="stable")[:k]
    colors = [cmap(norm(post[i])) for i in best]
    edges = ["#1b9e3e" if true_goal is not None and i == int(true_goal) else "black" for i in best]
    widths = [2.4 if e != "black" else 0.5 for e in edges]
    ypos = np.arange(k)
    ax.barh(ypos, post[best], color=colors, edgecolor=edges, linewidth=widths)
    labels = [
        f"{names[i]} (true)" if e != "black" else names[i] for i, e in zip(best, edges, strict=True)
    ]
    ax.set_yticks(ypos, labels, fontsize=8)
    for tick, e in zip(ax.get_yticklabels(), edges, strict=True):
        if e != "black":
            tick.set_color("#1b9e3e")
            tick.set_fontweight("bold")
    for y, i in zip(ypos, best, strict=True):
        text = "<0.01" if 0 < post[i] < 0.005 else f"{post[i]:.2f}"
        ax.text(post[i] + top * 0.01, y, text, va="center", fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.18)
    ax.set_xlabel("posterior probability", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    shown = f"top {k} of {len(goals)}" if k < len(goals) else f"all {len(goals)}"
    ax.set_title(f"most probable destinations ({shown})", fontsize=11)
    plots.save(fig, path)


@_closes_figures
def draw_learning_curve(path, metrics, *, title=None) -> None:
    """Training loss per L-BFGS iteration (NaN entries, past the last iteration, skipped).

    With a `"goals"` entry (the fit's ladder of goal sets) each stage is its own segment,
    marked with its number of destinations: the stages minimise different objectives.

    Args:
        path: PNG file to write.
        metrics: `ForecastModel.metrics`: `"loss"` and optionally `"grad_norm"` and `"goals"`
            per iteration (or the losses alone).
        title: figure title.
    """
    if not isinstance(metrics, Mapping):
        metrics = {"loss": metrics}
    fig, ax = plt.subplots(figsize=(5.4, 3.4))
    loss = np.asarray(metrics.get("loss", []), float).reshape(-1)
    it = np.flatnonzero(np.isfinite(loss))
    goals = np.asarray(metrics.get("goals", np.zeros_like(loss)), float).reshape(-1)[it]
    handles = []
    if it.size:
        starts = np.flatnonzero(np.diff(goals, prepend=np.nan) != 0)
        for first, end in zip(starts, [*starts[1:], len(it)], strict=True):
            (line,) = ax.plot(it[first:end] + 1, loss[it[first:end]], "o-", color=PREFIX_COLOR)
            line.set(markersize=3, linewidth=1.4)
            if len(starts) > 1:
                ax.axvline(it[first] + 0.5, color="0.6", lw=0.8, ls=":")
                ax.text(
                    it[first] + 0.7,
                    1,
                    f"{goals[first]:.0f} dest.",
                    fontsize=7,
                    transform=ax.get_xaxis_transform(),
                    va="top",
                    color="0.35",
                )
        line.set_label(f"loss (final {loss[it[-1]]:.4g})")
        handles.append(line)
    else:
        ax.text(0.5, 0.5, "no iterations recorded", transform=ax.transAxes, ha="center")
    ax.set_xlabel("L-BFGS iteration", fontsize=9)
    ax.set_ylabel("training loss", fontsize=9, color=PREFIX_COLOR)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    grad = np.asarray(metrics.get("grad_norm", []), float).reshape(-1)
    git = np.flatnonzero(np.isfinite(grad) & (grad > 0))
    if git.size:
        twin = ax.twinx()
        (line,) = twin.semilogy(git + 1, grad[git], "s--", color="#c2410c", ms=2.5, lw=1.0)
        line.set_label("gradient norm")
        handles.append(line)
        twin.set_ylabel("gradient norm (log scale)", fontsize=9, color="#c2410c")
        twin.tick_params(labelsize=8)
    if handles:
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper right")
    ax.set_title(title or "learning curve", fontsize=11)
    ax.grid(alpha=0.3)
    plots.save(fig, path)


# --------------------------------------------------------------------------- text


def _fmt(value, digits: int) -> str:
    if value is None:
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{value:.{digits}f}" if math.isfinite(value) else "nan"


def _detail(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple | list):
        return " × ".join(str(v) for v in value) if len(value) == 2 else str(value)
    return str(value)


def text_report(metrics: Mapping, *, title: str, details: Mapping | None = None) -> str:
    """A plain-text table of `evaluate.evaluate`'s metrics, the best value per column starred.

    Args:
        metrics: name → {"nll_per_step", "mhd", "destination_accuracy", ...}, rows in order.
        title: first line.
        details: optional lines `key: value` below the table (scene size, tracks, fit time…).

    Returns:
        The report, ending in a newline. Lower is better for NLL and MHD (metres), higher
        for destination accuracy; ties are all starred, NaN and missing values never.
    """
    names = [str(n) for n in metrics]
    digits = {"nll_per_step": 3, "mhd": 2, "destination_accuracy": 3}
    cells = {n: [] for n in names}
    for key, _, lower in _METRICS:
        values = np.asarray(
            [
                float(row[key]) if isinstance(row.get(key), int | float | np.number) else np.nan
                for row in metrics.values()
            ]
        )
        finite = np.isfinite(values)
        best = (np.nanmin(values) if lower else np.nanmax(values)) if finite.any() else np.nan
        for n, row, v, f in zip(names, metrics.values(), values, finite, strict=True):
            star = " *" if f and np.isclose(v, best, rtol=1e-9, atol=1e-12) else "  "
            cells[n].append(_fmt(row.get(key), digits[key]) + star)
    n_tracks = {n: row.get("n_tracks") for n, row in zip(names, metrics.values(), strict=True)}
    show_tracks = any(v is not None for v in n_tracks.values())

    headers = ["model"] + [h for _, h, _ in _METRICS] + (["tracks"] if show_tracks else [])
    rows = [
        [
            n,
            *cells[n],
            *([str(n_tracks[n]) if n_tracks[n] is not None else "—"] if show_tracks else []),
        ]
        for n in names
    ]
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(row):
        first = row[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(wd) for c, wd in zip(row[1:], widths[1:], strict=True))])

    rule = "-" * len(line(headers))
    out = [title, "=" * len(title), "", line(headers), rule, *(line(r) for r in rows), rule]
    out.append("* best in column (lower is better for nll_per_step and mhd, higher for accuracy)")
    if details:
        out.append("")
        width = max(len(str(k)) for k in details)
        out.extend(f"{str(k).ljust(width)} : {_detail(v)}" for k, v in details.items())
    return "\n".join(out) + "\n"
