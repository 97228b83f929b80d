"""Bring your own data: a semantic map (PNG), its class list (JSON) and tracks (CSV).

Three files describe a scene for activity forecasting (Kitani et al. 2012):

`classes.json`, the class list (the `#` notes are explanations, not part of the file)::

    {
      "cell_size": 0.5,          # metres per grid cell side (optional, default 1.0)
      "pixels_per_cell": 4,      # map pixels per cell side (optional, default 1)
      "classes": [
        {"name": "sidewalk", "color": "#808080"},
        {"name": "building", "color": [200, 0, 0], "passable": false},
        ...
      ]
    }

Each class has a unique `name` and a unique `color`, written `"#rrggbb"` (or `"#rgb"`) or
as `[r, g, b]` integers in 0–255; `passable` defaults to true. Other keys are refused, so
that a misspelt key is not silently ignored.

`map.png`, the labelled map: an 8-bit RGB or RGBA PNG (palette and grey PNGs work too)
whose every pixel has exactly one class's colour, fully opaque. Row 0 is the top. Blocks
of `pixels_per_cell` × `pixels_per_cell` pixels become one cell whose class probabilities
are the fractions of its pixels in each class (soft downsampling); a cell is passable when
less than half of its pixels are in impassable classes. A map whose size is not a multiple
of `pixels_per_cell` gets smaller cells on its right and bottom edges, averaged over the
pixels they have.

`tracks.csv`, the observed walkers::

    track_id,t,x,y
    walker01,0.0,3.5,11.2
    walker01,0.5,4.9,11.4
    ...

A header line naming `track_id`, `t`, `x` and `y` (in any order; other columns are
ignored) is required. `x` and `y` are pixel coordinates of the map PNG: `x` counts columns
from the left, `y` rows from the top, so the pixel in row `i`, column `j` covers
`j <= x < j + 1`, `i <= y < i + 1` (sub-pixel values are fine). `t` is any number that
increases along a track (seconds, frame numbers). How `load_tracks` turns the points into
8-neighbour cell paths, and what it fixes up or refuses, is described in its docstring.

`write_example(folder)` writes a small consistent set of the three files.
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import numbers
import re
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from irlax.config import is_int
from irlax.forecast.scene import Scene
from irlax.forecast.tracks import cell_path

DEFAULT_MAX_GAP = 5
"""Consecutive track points at most this many cells (8-neighbour moves) apart are joined."""

TRACK_COLUMNS = ("track_id", "t", "x", "y")
"""The columns `tracks.csv` must have."""

_MAX_LISTED = 5  # unknown colours named in an error message
_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_TOP_KEYS = ("cell_size", "pixels_per_cell", "classes")
_CLASS_KEYS = ("name", "color", "passable")


# --------------------------------------------------------------------------- classes.json


def to_hex(color) -> str:
    """`(r, g, b)` integers in 0–255 → `"#rrggbb"`."""
    r, g, b = (int(v) for v in color)
    return f"#{r:02x}{g:02x}{b:02x}"


@dataclasses.dataclass(frozen=True)
class ClassSpec:
    """The classes of a labelled map: their names, colours and passability.

    Attributes:
        names: the K class names, unique.
        colors: the K `(r, g, b)` colours (integers in 0–255), unique.
        passable: K flags; walkers never enter cells of the other classes.
        cell_size: metres per grid cell side.
        pixels_per_cell: map pixels per cell side.
        source: where the spec came from, named in error messages.

    Raises:
        ValueError: no class, duplicate names or colours, colours out of range, no
            passable class, non-positive sizes.
    """

    names: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    passable: tuple[bool, ...]
    cell_size: float = 1.0
    pixels_per_cell: int = 1
    source: str = "the class list"

    def __post_init__(self) -> None:
        where = self.source
        names, colors, passable = (
            _spec_sequence(getattr(self, f), f, where) for f in ("names", "colors", "passable")
        )
        for i, name in enumerate(names):
            if not isinstance(name, str):
                raise ValueError(f"{where}: classes[{i}].name must be a string, got {name!r}")
        # Stripped as `load_classes` strips them, so that `to_json` → `load_classes` is exact.
        object.__setattr__(self, "names", tuple(n.strip() for n in names))
        object.__setattr__(
            self,
            "colors",
            tuple(_spec_color(c, f"{where}: classes[{i}].color") for i, c in enumerate(colors)),
        )
        for i, flag in enumerate(passable):
            if not (isinstance(flag, bool | np.bool_) or (is_int(flag) and flag in (0, 1))):
                raise ValueError(
                    f"{where}: classes[{i}].passable must be True or False, got {flag!r}"
                )
        object.__setattr__(self, "passable", tuple(bool(p) for p in passable))
        k = len(self.names)
        if k == 0:
            raise ValueError(f"{where}: 'classes' lists no class (names is empty)")
        if len(self.colors) != k or len(self.passable) != k:
            raise ValueError(
                f"{where}: {k} names but {len(self.colors)} colours and "
                f"{len(self.passable)} passable flags"
            )
        for i, (name, color) in enumerate(zip(self.names, self.colors, strict=True)):
            if not name.strip():
                raise ValueError(f"{where}: classes[{i}].name is empty")
            if len(color) != 3 or not all(0 <= v <= 255 for v in color):
                raise ValueError(
                    f"{where}: classes[{i}] ({name!r}): color must be 3 integers in 0-255, "
                    f"got {list(color)}"
                )
        for i in range(k):
            for j in range(i):
                if self.names[i] == self.names[j]:
                    raise ValueError(
                        f"{where}: classes[{i}].name {self.names[i]!r} repeats classes[{j}]"
                    )
                if self.colors[i] == self.colors[j]:
                    raise ValueError(
                        f"{where}: classes[{i}].color {to_hex(self.colors[i])} "
                        f"({self.names[i]!r}) repeats classes[{j}] ({self.names[j]!r}); each "
                        "class needs its own colour"
                    )
        if not any(self.passable):
            raise ValueError(f"{where}: no class is passable, so no walker could move")
        if isinstance(self.cell_size, bool) or not (
            isinstance(self.cell_size, numbers.Real)
            and math.isfinite(self.cell_size)
            and self.cell_size > 0
        ):
            raise ValueError(
                f"{where}: cell_size must be a positive number of metres, got {self.cell_size!r}"
            )
        ppc = self.pixels_per_cell
        if isinstance(ppc, bool) or not isinstance(ppc, int | np.integer) or ppc < 1:
            raise ValueError(
                f"{where}: pixels_per_cell must be a positive whole number, got {ppc!r}"
            )
        object.__setattr__(self, "cell_size", float(self.cell_size))
        object.__setattr__(self, "pixels_per_cell", int(ppc))

    @property
    def impassable(self) -> tuple[str, ...]:
        """Names of the classes no walker enters."""
        return tuple(n for n, p in zip(self.names, self.passable, strict=True) if not p)

    @property
    def hex_colors(self) -> tuple[str, ...]:
        """The colours as `"#rrggbb"` strings."""
        return tuple(to_hex(c) for c in self.colors)

    def to_json(self) -> dict[str, Any]:
        """The spec in the `classes.json` format (`load_classes` reads it back)."""
        classes = []
        for name, color, passable in zip(self.names, self.hex_colors, self.passable, strict=True):
            entry: dict[str, Any] = {"name": name, "color": color}
            if not passable:
                entry["passable"] = False
            classes.append(entry)
        return {
            "cell_size": self.cell_size,
            "pixels_per_cell": self.pixels_per_cell,
            "classes": classes,
        }


def _spec_sequence(value: Any, field: str, where: str) -> tuple:
    """A `ClassSpec` field as a tuple, refused unless a sequence (and not one string)."""
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        raise ValueError(
            f"{where}: {field} must be a sequence with one entry per class, got {value!r}"
        )
    return tuple(value)


def _spec_color(value: Any, where: str) -> tuple[int, int, int]:
    """A `ClassSpec` colour: `"#rrggbb"`, `"#rgb"` or three integers in 0–255."""
    if isinstance(value, str):
        return _parse_color(value, where)
    if not hasattr(value, "__iter__"):
        raise ValueError(f"{where}: {value!r} is not a colour; give 3 integers in 0-255")
    rgb = tuple(value)
    if len(rgb) != 3 or not all(is_int(v) and 0 <= v <= 255 for v in rgb):
        raise ValueError(f"{where} must be 3 integers in 0-255, got {list(rgb)!r}")
    return tuple(int(v) for v in rgb)


def _parse_color(value: Any, where: str) -> tuple[int, int, int]:
    """A colour given as `"#rrggbb"`, `"#rgb"` or `[r, g, b]` → `(r, g, b)`."""
    if isinstance(value, str):
        m = _HEX.fullmatch(value.strip())
        if m is None:
            raise ValueError(
                f"{where}: {value!r} is not a colour; write '#rrggbb' (e.g. '#808080') or "
                "[r, g, b] with integers in 0-255"
            )
        digits = m.group(1)
        if len(digits) == 3:
            digits = "".join(d + d for d in digits)
        return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    if isinstance(value, list):
        ok = len(value) == 3 and all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value
        )
        if not ok:
            raise ValueError(
                f"{where}: {value!r} is not a colour; an RGB list has 3 integers in 0-255"
            )
        return tuple(value)
    raise ValueError(
        f"{where}: {value!r} is not a colour; write '#rrggbb' or [r, g, b] with integers in 0-255"
    )


def load_classes(path) -> ClassSpec:
    """Read a class list from a `classes.json` file (format in the module docstring).

    Args:
        path: the JSON file.

    Returns:
        The `ClassSpec`, with `source` set to `path`.

    Raises:
        ValueError: the file cannot be read or is not valid JSON; a key is missing, unknown
            or of the wrong type; a colour is malformed; names or colours repeat; no class is
            passable; `cell_size` or `pixels_per_cell` is not positive.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise ValueError(f"{path}: cannot read the class list: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: not a UTF-8 text file: {e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}"
        ) from e
    if not isinstance(data, dict):
        raise ValueError(
            f"{path}: the top level must be an object with a 'classes' list, "
            f"got {type(data).__name__}"
        )
    unknown = sorted(set(data) - set(_TOP_KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; the keys are {list(_TOP_KEYS)}")
    if "classes" not in data:
        raise ValueError(f"{path}: missing the 'classes' list")
    entries = data["classes"]
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: 'classes' must be a non-empty list of {{name, color}} objects")

    cell_size = data.get("cell_size", 1.0)
    if isinstance(cell_size, bool) or not isinstance(cell_size, int | float):
        raise ValueError(f"{path}: cell_size must be a number of metres, got {cell_size!r}")
    ppc = data.get("pixels_per_cell", 1)
    if isinstance(ppc, float) and ppc.is_integer():
        ppc = int(ppc)

    names, colors, passable = [], [], []
    for i, entry in enumerate(entries):
        where = f"{path}: classes[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f'{where} must be an object like {{"name": ..., "color": ...}}')
        label = f"{where} ({entry['name']!r})" if isinstance(entry.get("name"), str) else where
        unknown = sorted(set(entry) - set(_CLASS_KEYS))
        if unknown:
            raise ValueError(f"{label}: unknown key(s) {unknown}; the keys are {list(_CLASS_KEYS)}")
        if "name" not in entry:
            raise ValueError(f"{where}: missing 'name'")
        if not isinstance(entry["name"], str) or not entry["name"].strip():
            raise ValueError(f"{where}: 'name' must be a non-empty string, got {entry['name']!r}")
        if "color" not in entry:
            raise ValueError(f"{label}: missing 'color'")
        colors.append(_parse_color(entry["color"], f"{label}.color"))
        flag = entry.get("passable", True)
        if not isinstance(flag, bool):
            raise ValueError(f"{label}.passable must be true or false, got {flag!r}")
        names.append(entry["name"].strip())
        passable.append(flag)
    return ClassSpec(
        names=tuple(names),
        colors=tuple(colors),
        passable=tuple(passable),
        cell_size=cell_size,
        pixels_per_cell=ppc,
        source=str(path),
    )


# --------------------------------------------------------------------------- map.png


def _read_png(path: Path) -> np.ndarray:
    """The image as a uint8 `[H, W, 3]` or `[H, W, 4]` array."""
    from PIL import Image, UnidentifiedImageError  # Pillow comes with matplotlib

    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("RGB", "RGBA"):
                return np.asarray(im)
            if mode in ("P", "PA", "L", "LA", "1"):
                alpha = mode in ("PA", "LA") or "transparency" in im.info
                return np.asarray(im.convert("RGBA" if alpha else "RGB"))
    except FileNotFoundError as e:
        raise ValueError(f"{path}: no such file") from e
    except UnidentifiedImageError as e:
        raise ValueError(f"{path}: not an image file that can be read (expected a PNG)") from e
    # A damaged file fails inside Pillow or zlib with their own errors (OSError, SyntaxError
    # "broken PNG file", ValueError "Truncated IHDR chunk", zlib.error, ...).
    except Exception as e:
        raise ValueError(f"{path}: cannot read the map: {e}") from e
    raise ValueError(
        f"{path}: images of mode {mode!r} are not supported; save the map as an 8-bit RGB or "
        "RGBA PNG"
    )


def scene_from_image(image, spec: ClassSpec, *, source: str = "the map") -> Scene:
    """A scene from a labelled map held in memory (what `load_labels` does after reading).

    Args:
        image: `[H, W, 3]` RGB or `[H, W, 4]` RGBA (or `[H, W]` grey), uint8 in 0–255 or
            float in [0, 1] (as `matplotlib.image.imread` returns PNGs).
        spec: the classes; every pixel must have exactly one class's colour.
        source: name of the map in error messages.

    Returns:
        A `Scene` of `ceil(H / p)` × `ceil(W / p)` cells, `p = spec.pixels_per_cell`, whose
        class probabilities are the fractions of each block's pixels in each class, and whose
        cells are passable where less than half of the pixels are in impassable classes.

    Raises:
        ValueError: bad shape or values, pixels not fully opaque, pixels of colours that are
            not in `spec` (up to 5 such colours listed with their pixel counts and one
            `(x, y)` each), or no passable cell.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"{source}: expected an [H, W, 3] RGB or [H, W, 4] RGBA image, got shape {arr.shape}"
        )
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"{source}: a float image must have values in [0, 1]")
        arr = np.round(arr.astype(np.float64) * 255).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(
                f"{source}: an integer image must have values in 0-255 (8 bits), "
                f"got values in [{arr.min()}, {arr.max()}]"
            )
        arr = arr.astype(np.uint8)
    else:
        raise ValueError(f"{source}: unsupported image dtype {arr.dtype}")
    h, w = arr.shape[:2]
    if arr.shape[-1] == 4:
        clear = arr[..., 3] != 255
        if clear.any():
            y, x = (int(v) for v in np.argwhere(clear)[0])
            raise ValueError(
                f"{source}: {int(clear.sum())} pixels are not fully opaque (alpha < 255), e.g. "
                f"at x={x}, y={y}; every pixel must be one opaque class colour"
            )
        arr = arr[..., :3]

    codes = (
        (arr[..., 0].astype(np.int64) << 16)
        | (arr[..., 1].astype(np.int64) << 8)
        | arr[..., 2].astype(np.int64)
    ).ravel()
    uniq, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    known = {(r << 16) | (g << 8) | b: k for k, (r, g, b) in enumerate(spec.colors)}
    lut = np.asarray([known.get(int(u), -1) for u in uniq], dtype=np.int64)
    bad = np.flatnonzero(lut < 0)
    if bad.size:
        bad = bad[np.argsort(-counts[bad], kind="stable")]
        palette = np.asarray(spec.colors, dtype=np.float64)
        listed = []
        for j in bad[:_MAX_LISTED]:
            u = int(uniq[j])
            rgb = np.asarray([(u >> 16) & 255, (u >> 8) & 255, u & 255])
            y, x = divmod(int(np.argmax(inverse == j)), w)
            near = int(np.argmin(((palette - rgb) ** 2).sum(axis=1)))
            listed.append(
                f"{to_hex(rgb)} ({int(counts[j])} pixels, e.g. x={x}, y={y}; nearest class "
                f"{spec.names[near]!r} {to_hex(spec.colors[near])})"
            )
        more = f"; and {bad.size - _MAX_LISTED} more colours" if bad.size > _MAX_LISTED else ""
        n_bad = int(counts[bad].sum())
        known_list = ", ".join(f"{n} {c}" for n, c in zip(spec.names, spec.hex_colors, strict=True))
        raise ValueError(
            f"{source}: {n_bad} of {h * w} pixels have {bad.size} colour(s) that are not in "
            f"{spec.source}: {'; '.join(listed)}{more}. Every pixel must have exactly one "
            "class's colour (smoothed/antialiased edges and lossy compression create "
            f"in-between colours). The classes are: {known_list}"
        )
    labels = lut[inverse].reshape(h, w)

    p = spec.pixels_per_cell
    hc, wc = -(-h // p), -(-w // p)
    k = len(spec.names)
    cell = (np.arange(h)[:, None] // p) * wc + (np.arange(w)[None, :] // p)
    counts = np.bincount((cell * k + labels).ravel(), minlength=hc * wc * k)
    counts = counts.reshape(hc, wc, k).astype(np.float64)
    probs = counts / counts.sum(axis=-1, keepdims=True)
    blocked = np.asarray([not q for q in spec.passable])
    passable = probs[..., blocked].sum(axis=-1) < 0.5
    if not passable.any():
        raise ValueError(f"{source}: no cell is passable (every cell is mostly {spec.impassable})")
    return Scene.from_probs(probs, spec.names, cell_size=spec.cell_size, passable=passable)


def load_labels(png_path, spec: ClassSpec) -> Scene:
    """Read a labelled map PNG into a `Scene` (see `scene_from_image` for the conversion).

    Each pixel's colour must equal one class's colour exactly. Blocks of
    `spec.pixels_per_cell` pixels become one cell holding the fraction of its pixels in each
    class (soft downsampling, `Scene.from_probs`); the cell is passable when less than half
    of those pixels are in impassable classes. With `pixels_per_cell = 1` this is the one-hot
    scene of `Scene.from_labels(..., impassable=spec.impassable)`.

    Args:
        png_path: the map, an 8-bit RGB/RGBA (or palette/grey) PNG; row 0 is the top.
        spec: the classes, from `load_classes`.

    Returns:
        The `Scene` with `spec.cell_size` metres per cell.

    Raises:
        ValueError: the file cannot be read, pixels are not opaque, or pixels have colours
            not in `spec` (listed with counts and an example `(x, y)` each).
    """
    path = Path(png_path)
    return scene_from_image(_read_png(path), spec, source=str(path))


# --------------------------------------------------------------------------- tracks.csv


@dataclasses.dataclass(frozen=True, eq=False)
class Tracks:
    """Observed tracks as 8-neighbour cell paths, with what `load_tracks` did to get them.

    Attributes:
        paths: int `[n_i, 2]` (row, col) paths, each step one of the 9 moves (no stays):
            ready for `irlax.forecast.tracks.to_trajectories(paths, scene.shape)`.
        ids: one id per path: the CSV's `track_id`, with `#1`, `#2`, ... appended when a
            track was cut into pieces.
        t0: float `[N]`, the time `t` at which each path starts (interpolated when a piece
            starts between two observed points).
        dropped: pieces left out because they were shorter than `min_length` cells.
        splits: places where a track was cut because consecutive points were more than
            `max_gap` cells apart.
        resorted: tracks whose rows were not in time order in the file and were sorted.
        blocked: path cells removed because they lie in impassable cells (a track is cut
            where they were).
    """

    paths: list[np.ndarray]
    ids: list[str]
    t0: np.ndarray
    dropped: int = 0
    splits: int = 0
    resorted: int = 0
    blocked: int = 0

    def __len__(self) -> int:
        return len(self.paths)

    def summary(self) -> str:
        """One line: how many paths, and what was fixed up on the way."""
        cells = sum(len(p) for p in self.paths)
        return (
            f"{len(self.paths)} paths ({cells} cells); {self.dropped} too-short pieces dropped, "
            f"{self.splits} splits at gaps, {self.resorted} tracks re-sorted by t, "
            f"{self.blocked} impassable cells removed"
        )


def _read_rows(path: Path) -> dict[str, list[tuple[float, float, float, int, str]]]:
    """`track_id → [(t, x, y, line, t as written), ...]` in file order."""
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except OSError as e:
        raise ValueError(f"{path}: cannot read the tracks: {e.strerror or e}") from e
    tracks: dict[str, list[tuple[float, float, float, int, str]]] = {}
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            while header is not None and not any(c.strip() for c in header):
                header = next(reader, None)
            if header is None:
                raise ValueError(
                    f"{path}: the file is empty; the first line must be the header "
                    f"{','.join(TRACK_COLUMNS)}"
                )
            header = [c.strip() for c in header]
            missing = [c for c in TRACK_COLUMNS if c not in header]
            if missing:
                raise ValueError(
                    f"{path}: line {reader.line_num}: missing column(s) {', '.join(missing)} in "
                    f"the header (found: {', '.join(header)}); the first line must name the "
                    f"columns {','.join(TRACK_COLUMNS)}"
                )
            repeated = sorted({c for c in header if c and header.count(c) > 1})
            if repeated:
                raise ValueError(f"{path}: line {reader.line_num}: repeated column(s) {repeated}")
            col = {c: header.index(c) for c in TRACK_COLUMNS}
            for row in reader:
                line = reader.line_num
                if not any(c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise ValueError(
                        f"{path}: line {line}: {len(row)} fields, but the header has "
                        f"{len(header)} ({','.join(header)})"
                    )
                tid = row[col["track_id"]].strip()
                if not tid:
                    raise ValueError(f"{path}: line {line}: empty track_id")
                values = []
                for name in ("t", "x", "y"):
                    raw = row[col[name]].strip()
                    try:
                        v = float(raw)
                    except ValueError:
                        raise ValueError(
                            f"{path}: line {line}: {name} = {raw!r} is not a number"
                        ) from None
                    if not math.isfinite(v):
                        raise ValueError(f"{path}: line {line}: {name} = {raw!r} is not finite")
                    values.append(v)
                t, x, y = values
                tracks.setdefault(tid, []).append((t, x, y, line, row[col["t"]].strip()))
        except csv.Error as e:
            raise ValueError(f"{path}: line {reader.line_num}: malformed CSV: {e}") from e
        except UnicodeDecodeError as e:
            raise ValueError(f"{path}: not a UTF-8 text file: {e}") from e
    if not tracks:
        raise ValueError(f"{path}: the header is there but no track point follows it")
    return tracks


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """`[start, stop)` of the runs of True in a bool vector."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def load_tracks(
    csv_path,
    scene: Scene,
    spec: ClassSpec,
    *,
    min_length: int = 5,
    max_gap: int | None = None,
) -> Tracks:
    """Read observed tracks (`track_id,t,x,y`, format in the module docstring) as cell paths.

    Point `(x, y)` (map pixels) lies in cell `(row, col) = (floor(y / p), floor(x / p))`,
    `p = spec.pixels_per_cell`. Each track's cells, in time order, are joined into an
    8-neighbour path by `irlax.forecast.tracks.cell_path` (gaps interpolated along straight
    lines, repeated cells dropped).

    Errors (`ValueError`, naming the file and the line, track, `t` or point):
        * a missing header or column, a row with the wrong number of fields, an empty
          `track_id`, a value that is not a finite number;
        * a repeat: two rows of one track with the same `t`;
        * a track that leaves the map: a point outside `0 <= x < W·p`, `0 <= y < H·p`,
          `(H, W) = scene.shape`;
        * most track points in impassable cells (the tracks do not fit the map: check x/y
          and `pixels_per_cell`);
        * no path left after the fix-ups below.

    Fix-ups (counted in the returned `Tracks`):
        * rows of a track out of time order are sorted by `t` (`resorted`);
        * consecutive points more than `max_gap` cells apart (Chebyshev distance, i.e.
          8-neighbour moves) cut the track into pieces there (`splits`); smaller gaps are
          interpolated;
        * path cells in impassable cells (an observed point, or a cell interpolated
          across a corner of a building) are removed and the track is cut there (`blocked`):
          with soft downsampling a point near a wall may fall in a mostly-building cell;
        * pieces shorter than `min_length` cells are dropped (`dropped`).

    Args:
        csv_path: the CSV file.
        scene: the map, from `load_labels(…, spec)`.
        spec: the classes, for `pixels_per_cell`.
        min_length: the fewest cells a kept path has (at least 1).
        max_gap: the largest gap, in cells, that is interpolated; default `DEFAULT_MAX_GAP`
            (5 cells).

    Returns:
        The `Tracks`, in order of each track's first row in the file.
    """
    path = Path(csv_path)
    max_gap = DEFAULT_MAX_GAP if max_gap is None else max_gap
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
        raise ValueError(f"min_length must be a whole number of cells >= 1, got {min_length!r}")
    if isinstance(max_gap, bool) or not isinstance(max_gap, int) or max_gap < 1:
        raise ValueError(f"max_gap must be a whole number of cells >= 1, got {max_gap!r}")
    if tuple(scene.classes) != spec.names:
        raise ValueError(
            f"the scene's classes {list(scene.classes)} are not those of {spec.source} "
            f"{list(spec.names)}"
        )
    p = spec.pixels_per_cell
    h, w = scene.shape
    passable = np.asarray(scene.passable, bool)

    rows = _read_rows(path)
    paths: list[np.ndarray] = []
    ids: list[str] = []
    t0: list[float] = []
    dropped = splits = resorted = blocked = 0
    n_points = n_blocked_points = 0
    for tid, pts in rows.items():
        ts = np.asarray([q[0] for q in pts])
        if np.any(np.diff(ts) < 0):
            resorted += 1
            order = np.argsort(ts, kind="stable")
            pts = [pts[i] for i in order]
            ts = ts[order]
        same = np.flatnonzero(np.diff(ts) == 0)
        if same.size:
            a, b = pts[same[0]], pts[same[0] + 1]
            raise ValueError(
                f"{path}: track {tid!r} repeats t={a[4]} (lines {a[3]} and {b[3]}); each "
                "(track_id, t) pair must appear once"
            )
        for _, x, y, line, t_raw in pts:
            if not (0 <= x < w * p and 0 <= y < h * p):
                raise ValueError(
                    f"{path}: line {line}: track {tid!r} leaves the map at t={t_raw}: point "
                    f"(x={x:g}, y={y:g}) is outside the {w * p}x{h * p}-pixel map "
                    f"(0 <= x < {w * p}, 0 <= y < {h * p})"
                )
        r = np.asarray([math.floor(q[2] / p) for q in pts], np.int64)
        c = np.asarray([math.floor(q[1] / p) for q in pts], np.int64)
        n_points += len(pts)
        n_blocked_points += int((~passable[r, c]).sum())

        # Cut at gaps wider than max_gap, then interpolate within each group.
        jump = np.maximum(np.abs(np.diff(r)), np.abs(np.diff(c))) > max_gap
        splits += int(jump.sum())
        bounds = [0, *(np.flatnonzero(jump) + 1).tolist(), len(pts)]
        pieces: list[tuple[np.ndarray, np.ndarray]] = []
        for lo, hi in itertools.pairwise(bounds):
            cells = [np.asarray([[r[lo], c[lo]]])]
            times = [np.asarray([ts[lo]])]
            for i in range(lo + 1, hi):
                seg = cell_path(r[i - 1 : i + 1], c[i - 1 : i + 1])[1:]
                if len(seg):
                    frac = np.arange(1, len(seg) + 1) / len(seg)
                    cells.append(seg)
                    times.append(ts[i - 1] + (ts[i] - ts[i - 1]) * frac)
            cells_a, times_a = np.concatenate(cells), np.concatenate(times)
            ok = passable[cells_a[:, 0], cells_a[:, 1]]
            blocked += int((~ok).sum())
            pieces.extend((cells_a[s:e], times_a[s:e]) for s, e in _runs(ok))
        for k, (cells_a, times_a) in enumerate(pieces, start=1):
            if len(cells_a) < min_length:
                dropped += 1
                continue
            paths.append(cells_a)
            ids.append(tid if len(pieces) == 1 else f"{tid}#{k}")
            t0.append(float(times_a[0]))

    if n_blocked_points * 2 > n_points:
        raise ValueError(
            f"{path}: {n_blocked_points} of {n_points} track points lie in impassable cells "
            f"({', '.join(spec.impassable)}): the tracks do not fit the map; check that x is "
            f"the column and y the row (origin top-left) in map pixels, and pixels_per_cell={p}"
        )
    if not paths:
        raise ValueError(
            f"{path}: no track is left: all {dropped} pieces of the {len(rows)} tracks are "
            f"shorter than min_length={min_length} cells (after {splits} splits at gaps over "
            f"max_gap={max_gap} cells and {blocked} impassable cells removed)"
        )
    return Tracks(
        paths=paths,
        ids=ids,
        t0=np.asarray(t0, np.float64),
        dropped=dropped,
        splits=splits,
        resorted=resorted,
        blocked=blocked,
    )


# --------------------------------------------------------------------------- example


class ExampleFiles(NamedTuple):
    """The paths `write_example` wrote."""

    labels: Path
    classes: Path
    tracks: Path


_EXAMPLE_SPEC = {
    "cell_size": 0.5,
    "pixels_per_cell": 1,
    "classes": [
        {"name": "sidewalk", "color": "#b4b4b4"},
        {"name": "road", "color": "#404040"},
        {"name": "grass", "color": [90, 170, 60]},
        {"name": "building", "color": [200, 50, 50], "passable": False},
    ],
}


def example_map() -> np.ndarray:
    """The example's class ids, int `[30, 40]`: 0 sidewalk, 1 road, 2 grass, 3 building.

    Two roads cross (rows 13–16, columns 18–21); two-pixel sidewalks run along both sides of
    each (rows 11–12 and 17–18, columns 16–17 and 22–23); a building sits in each corner
    and grass fills the rest.
    """
    labels = np.full((30, 40), 2, np.int64)
    for r0, r1, c0, c1 in ((2, 9, 2, 13), (2, 9, 27, 38), (21, 28, 2, 13), (21, 28, 27, 38)):
        labels[r0:r1, c0:c1] = 3
    labels[11:13, :] = labels[17:19, :] = 0
    labels[:, 16:18] = labels[:, 22:24] = 0
    labels[13:17, :] = labels[:, 18:22] = 1
    return labels


def write_example(folder, *, n_tracks: int = 20, seed: int = 0) -> ExampleFiles:
    """Write a small consistent example: `map.png`, `classes.json` and `tracks.csv`.

    The map (`example_map`) is 40×30 pixels, one pixel per cell of 0.5 m. Each walker enters
    at an edge of the map on a sidewalk lane, walks along it, and either goes straight
    across or turns at the crossing onto a perpendicular lane; it is sampled every 0.5 s at
    about 1.3 m/s, jittered inside its pixel, so that the tracks load without fix-ups.

    Args:
        folder: where to write (created if needed); existing files are overwritten.
        n_tracks: how many walkers.
        seed: seed of the walkers' random routes.

    Returns:
        The three paths.
    """
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    colors = np.asarray(
        [_parse_color(c["color"], "example") for c in _EXAMPLE_SPEC["classes"]], np.uint8
    )
    labels = example_map()
    h, w = labels.shape
    files = ExampleFiles(folder / "map.png", folder / "classes.json", folder / "tracks.csv")
    Image.fromarray(colors[labels]).save(files.labels)
    entries = ",\n".join(f"    {json.dumps(c)}" for c in _EXAMPLE_SPEC["classes"])
    files.classes.write_text(
        f'{{\n  "cell_size": {_EXAMPLE_SPEC["cell_size"]},\n'
        f'  "pixels_per_cell": {_EXAMPLE_SPEC["pixels_per_cell"]},\n'
        f'  "classes": [\n{entries}\n  ]\n}}\n',
        encoding="utf-8",
    )

    rng = np.random.default_rng(seed)
    lanes_r, lanes_c = (11, 12, 17, 18), (16, 17, 22, 23)
    speed = 1.3 / 0.5  # cells per second
    with files.tracks.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(TRACK_COLUMNS)
        for i in range(n_tracks):
            r, c = int(rng.choice(lanes_r)), int(rng.choice(lanes_c))
            kind = int(rng.integers(4))
            if kind == 0:  # straight across, along a row
                ends = [(r, 0), (r, w - 1)]
            elif kind == 1:  # straight across, along a column
                ends = [(0, c), (h - 1, c)]
            else:  # enter along a row, turn at the crossing, leave along a column
                ends = [(r, int(rng.choice([0, w - 1]))), (r, c), (int(rng.choice([0, h - 1])), c)]
            if rng.random() < 0.5:
                ends = ends[::-1]
            way = np.concatenate(
                [
                    np.linspace(a, b, int(np.abs(np.subtract(b, a)).max()) + 1)[:-1]
                    for a, b in itertools.pairwise(ends)
                ]
                + [np.asarray([ends[-1]], np.float64)]
            )
            # Sample every 0.5 s: about 1.3 cells apart, along the waypoints of unit steps.
            idx = np.unique(np.round(np.arange(0, len(way) - 1, speed * 0.5)).astype(int))
            idx = np.union1d(idx, [len(way) - 1])
            start = float(rng.uniform(0, 60))
            for j in idx:
                y, x = way[j] + 0.5 + rng.uniform(-0.35, 0.35, size=2)
                t = start + j / speed
                out.writerow([f"walker{i + 1:02d}", f"{t:.2f}", f"{x:.2f}", f"{y:.2f}"])
    return files
