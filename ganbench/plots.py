"""Pictures of a run's samples, saved as its MLflow artifacts: generated points over the mode
centres for 2-D data, a grid for images.

Drawn with Pillow straight into a pixel array, not with matplotlib: one picture per run is on
the suite's critical path, and matplotlib costs half a second to import and 50-130 ms a picture
(mostly tick and text layout) against a few milliseconds here. The report draws its own,
richer figures with matplotlib from the saved samples.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIDE = 320  # pixels per side of the plotting area of a 2-D picture
STRIP = 18  # pixels of the text strips above (title) and below (scale, legend)
POINT_ALPHA = 0.4  # each point covers 40% of what is under it, so density shows as depth of blue
MAX_DEPTH = 32  # points on one pixel beyond which it is as blue as it gets (0.6**32 < 1e-7)
BLUE, RED, GREY = (31, 119, 180), (214, 39, 40), (120, 120, 120)


def sample_figure(samples: np.ndarray, centres: np.ndarray | None, title: str, path: Path) -> Path:
    """Save a picture of `samples` ([n, 2] points or [n, C, H, W] images in [-1, 1]) to `path`."""
    if samples.ndim == 2:
        samples, centres = _plane(samples), None if centres is None else _plane(centres)
        span = view_span(samples, centres)
        body, caption = scatter_pixels(samples, centres, span), _scatter_caption(len(samples), span)
    else:
        tiles = tile_images(samples)
        zoom = max(1, SIDE // max(tiles.shape[:2]))  # small images, enlarged by whole pixels
        body = np.repeat(np.repeat(_to_rgb8(tiles), zoom, axis=0), zoom, axis=1)
        caption = f"first {min(len(samples), 64)} of {len(samples)} samples"
    _framed(body, title, caption).save(path)
    return path


def view_span(points: np.ndarray, centres: np.ndarray | None) -> float:
    """Half the side of the square view: around the modes when they are known (points far off
    them fall outside, as they should), else around the finite points."""
    if centres is not None and len(centres):
        return float(np.abs(centres).max()) * 1.5 + 0.5
    finite = np.abs(points[np.isfinite(points).all(axis=1)])
    largest = float(finite.max()) if finite.size else 0.0
    return largest * 1.05 if largest > 0 else 1.0


def scatter_pixels(points: np.ndarray, centres: np.ndarray | None, span: float) -> np.ndarray:
    """[SIDE, SIDE, 3] uint8: every point a 2x2 blue square blended at POINT_ALPHA over white,
    the mode centres as red crosses. Points outside [-span, span]^2 or not finite are left out."""
    pixel = _to_pixels(points[np.isfinite(points).all(axis=1)], span)
    inside = ((pixel >= 0) & (pixel < SIDE - 1)).all(axis=1)
    rows, cols = pixel[inside, 1], pixel[inside, 0]
    hits = np.zeros(SIDE * SIDE, dtype=np.int64)
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        hits += np.bincount((rows + dr) * SIDE + cols + dc, minlength=SIDE * SIDE)
    image = Image.fromarray(_blends()[np.minimum(hits, MAX_DEPTH)].reshape(SIDE, SIDE, 3))
    if centres is not None:
        draw = ImageDraw.Draw(image)
        for col, row in _to_pixels(centres, span):
            draw.line([(col - 4, row - 4), (col + 4, row + 4)], fill=RED, width=1)
            draw.line([(col - 4, row + 4), (col + 4, row - 4)], fill=RED, width=1)
    return np.asarray(image)


def tile_images(images: np.ndarray, n: int = 64) -> np.ndarray:
    """Up to n images [N, C, H, W] in [-1, 1] tiled row by row into one [rows*H, cols*W, C]
    array in [0, 1] (white where the last row is short); the report draws it too."""
    images = images[:n]
    side = math.ceil(math.sqrt(len(images)))
    c, h, w = images.shape[1:]
    canvas = np.ones((side * h, side * w, c), dtype=np.float32)
    for i, image in enumerate(images):
        r, q = divmod(i, side)
        canvas[r * h : (r + 1) * h, q * w : (q + 1) * w] = (np.transpose(image, (1, 2, 0)) + 1) / 2
    return canvas.clip(0, 1)


def _plane(points: np.ndarray) -> np.ndarray:
    """The first two coordinates of [n, d] points as float64; 1-D points lie on the x axis."""
    points = np.asarray(points, dtype=np.float64)
    return np.pad(points, ((0, 0), (0, 1))) if points.shape[1] == 1 else points[:, :2]


def _to_pixels(points: np.ndarray, span: float) -> np.ndarray:
    """[n, 2] data coordinates -> [n, 2] integer (column, row), y up, (-span, span) top left."""
    scaled = (points + span) / (2 * span) * (SIDE - 1)
    return np.stack([np.floor(scaled[:, 0]), np.floor(SIDE - 1 - scaled[:, 1])], axis=1).astype(np.int64)


def _to_rgb8(tiles: np.ndarray) -> np.ndarray:
    rgb = np.repeat(tiles, 3, axis=2) if tiles.shape[2] == 1 else tiles[:, :, :3]
    return np.rint(rgb * 255).astype(np.uint8)


def _scatter_caption(n: int, span: float) -> str:
    return f"x, y in [{-span:.3g}, {span:.3g}]   blue: {n} generated   red: modes"


def _framed(body: np.ndarray, title: str, caption: str) -> Image.Image:
    """The body with a grey frame, the title above it and the caption below, on white."""
    height, width = body.shape[:2]
    picture = Image.new("RGB", (width + 2, height + 2 * STRIP + 2), "white")
    picture.paste(Image.fromarray(body), (1, STRIP + 1))
    draw = ImageDraw.Draw(picture)
    draw.rectangle([0, STRIP, width + 1, STRIP + height + 1], outline=GREY)
    draw.text((2, 2), title, fill="black", font=_font())
    draw.text((2, STRIP + height + 4), caption, fill=GREY, font=_font())
    return picture


@cache
def _blends() -> np.ndarray:
    """[MAX_DEPTH + 1, 3] uint8: the colour of a pixel under k points, white blended towards
    blue k times at POINT_ALPHA."""
    cover = 1.0 - (1.0 - POINT_ALPHA) ** np.arange(MAX_DEPTH + 1)[:, None]
    return np.rint(255.0 * (1.0 - cover) + np.array(BLUE) * cover).astype(np.uint8)


@cache
def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=11)
