"""The run pictures (ganbench/plots.py): where points land, how they blend, and image grids that
hold the images' own pixels, read back from the saved PNG files."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ganbench.plots import BLUE, POINT_ALPHA, RED, SIDE, STRIP, sample_figure, scatter_pixels, tile_images

WHITE = np.array([255, 255, 255], dtype=np.uint8)


def blend(k: int) -> np.ndarray:
    """The colour of a pixel under k points, from the definition (not the module's table)."""
    cover = 1 - (1 - POINT_ALPHA) ** k
    return np.rint(255 * (1 - cover) + np.array(BLUE) * cover).astype(np.uint8)


def test_points_land_where_they_are_and_blend_by_count():
    # Three points on one spot at the top right, one at the bottom left, none elsewhere.
    points = np.array([[1.5, 1.5]] * 3 + [[-1.5, -1.5]])
    pixels = scatter_pixels(points, None, span=2.0)
    assert pixels.shape == (SIDE, SIDE, 3) and pixels.dtype == np.uint8
    coloured = np.argwhere((pixels != WHITE).any(axis=2))
    assert len(coloured) == 8  # two 2x2 squares
    top_right = coloured[(coloured[:, 0] < SIDE / 2) & (coloured[:, 1] > SIDE / 2)]
    bottom_left = coloured[(coloured[:, 0] > SIDE / 2) & (coloured[:, 1] < SIDE / 2)]
    assert len(top_right) == 4 and len(bottom_left) == 4
    for row, col in top_right:
        assert (pixels[row, col] == blend(3)).all()
    for row, col in bottom_left:
        assert (pixels[row, col] == blend(1)).all()
    # x = 1.5 of span 2 is 7/8 of the way across; y = 1.5 is 1/8 of the way down.
    assert abs(top_right[:, 1].min() - 7 / 8 * (SIDE - 1)) <= 1
    assert abs(top_right[:, 0].min() - 1 / 8 * (SIDE - 1)) <= 1


def test_points_outside_the_view_or_not_finite_are_left_out():
    points = np.array([[5.0, 0.0], [0.0, -2.5], [np.nan, 0.0], [np.inf, np.inf], [-np.inf, 1.0]])
    pixels = scatter_pixels(points, None, span=2.0)
    assert (pixels == WHITE).all()
    many = np.zeros((1000, 2))  # a collapsed generator: one spot, as blue as it gets
    assert (scatter_pixels(many, None, span=1.0)[SIDE // 2 - 1 : SIDE // 2 + 1] == blend(1000)).any()


def test_mode_centres_are_red_crosses_at_their_places():
    centres = np.array([[1.0, 0.0], [-1.0, 0.0]])
    pixels = scatter_pixels(np.empty((0, 2)), centres, span=2.0)
    red = np.argwhere((pixels == np.array(RED, dtype=np.uint8)).all(axis=2))
    right, left = red[red[:, 1] > SIDE / 2], red[red[:, 1] < SIDE / 2]
    assert len(right) >= 9 and len(left) >= 9
    for found, x in ((right, 1.0), (left, -1.0)):  # each cross is centred on its mode
        assert abs(found[:, 1].mean() - (x + 2) / 4 * (SIDE - 1)) <= 1
        assert abs(found[:, 0].mean() - (SIDE - 1) / 2) <= 1


def test_image_grid_holds_the_images_pixels(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, size=(10, 3, 4, 5)).astype(np.float32)
    tiles = tile_images(images)
    assert tiles.shape == (4 * 4, 4 * 5, 3)  # 10 images on a 4 x 4 grid
    np.testing.assert_allclose(tiles[4:8, 5:10], (images[5].transpose(1, 2, 0) + 1) / 2, atol=1e-7)
    assert (tiles[8:, 10:] == 1).all()  # the short last row is white
    path = sample_figure(images, None, "grid", tmp_path / "grid.png")
    picture = np.asarray(Image.open(path).convert("RGB"))
    zoom = SIDE // 20
    first = picture[STRIP + 1 : STRIP + 1 + 4 * zoom : zoom, 1 : 1 + 5 * zoom : zoom]
    np.testing.assert_array_equal(first, np.rint(tiles[:4, :5] * 255).astype(np.uint8))


def test_scatter_picture_file_has_the_points(tmp_path):
    points = np.array([[0.0, 0.0]] * 5)
    path = sample_figure(points, np.array([[1.0, 1.0]]), "one spot", tmp_path / "s.png")
    picture = np.asarray(Image.open(path).convert("RGB"))
    assert picture.shape == (SIDE + 2 * STRIP + 2, SIDE + 2, 3)
    body = picture[STRIP + 1 : STRIP + 1 + SIDE, 1 : 1 + SIDE]
    np.testing.assert_array_equal(body, scatter_pixels(points, np.array([[1.0, 1.0]]), 1.0 * 1.5 + 0.5))


def test_points_of_other_dimensions_are_drawn_on_their_first_two(tmp_path):
    """A plugin dataset of 1-D or 3-D points still gets its picture (1-D points on the x axis)."""
    line = np.array([[0.5], [-0.5]])
    path = sample_figure(line, np.array([[1.0], [-1.0]]), "1-D", tmp_path / "line.png")
    body = np.asarray(Image.open(path).convert("RGB"))[STRIP + 1 : STRIP + 1 + SIDE, 1 : 1 + SIDE]
    blue = np.argwhere((body == blend(1)).all(axis=2))
    assert len(blue) == 8 and abs(blue[:, 0].mean() - (SIDE - 1) / 2) <= 1  # on the middle row
    cube = np.array([[0.5, 0.5, 9.0]])
    assert (scatter_pixels(cube[:, :2], None, 1.0) != WHITE).any()
    sample_figure(cube, None, "3-D", tmp_path / "cube.png")
