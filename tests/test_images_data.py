"""Image datasets: offline digits, torchvision's real MNIST reader on IDX files written here,
image folders, and one-line errors when files are missing."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ganbench.data import build_dataset
from ganbench.data.images import digits, to_uint8
from ganbench.errors import BadInput
from ganbench.suite import resolve_dataset


def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX as in the MNIST distribution: magic (0, 0, uint8 type 0x08, ndim), big-endian dims, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def fake_mnist(root: Path, n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, array in arrays.items():
        write_idx(raw / name, array)
    return arrays


def test_digits_offline_shape_range_and_splits():
    data = digits(size=16)
    assert data.kind == "image" and data.shape == (1, 16, 16)
    assert len(data.train_pixels) + len(data.test_pixels) == 1797
    x = data.sample(500, torch.Generator().manual_seed(0))
    assert x.shape == (500, 1, 16, 16) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1 and x.max() > 0.9  # background and ink
    assert torch.equal(x, data.sample(500, torch.Generator().manual_seed(0)))  # only the generator decides
    ref = data.reference(50)
    assert ref.shape == (50, 3, 16, 16) and ref.dtype == torch.uint8
    assert len(data.reference(10**6)) == len(data.test_pixels)  # capped at the held-out split
    assert data.num_classes == 10 and set(data.test_labels.tolist()) == set(range(10))
    assert digits(size=28).shape == (1, 28, 28)


def test_digits_through_the_suite_loader_and_limit():
    label, params = resolve_dataset({"name": "digits", "size": 28, "limit": 100}, "suite: datasets[0]")
    assert label == "digits" and params == {"name": "digits", "size": 28, "holdout": 0.2, "limit": 100}
    data = build_dataset(params, data_root="/ignored")
    assert len(data.train_pixels) == 100 and len(data.test_pixels) == 359


def test_float_uint8_round_trip():
    data = digits()
    images, _ = data.test_split()
    assert torch.equal(to_uint8(images), data.test_pixels)
    assert to_uint8(torch.tensor([float("nan"), -5.0, 5.0])).tolist() == [0, 0, 255]


def test_mnist_reads_idx_files_with_torchvision(tmp_path):
    arrays = fake_mnist(tmp_path)
    data = build_dataset({"name": "mnist", "download": False, "limit": 0}, str(tmp_path))
    assert data.shape == (1, 28, 28) and data.num_classes <= 10
    assert np.array_equal(data.train_pixels[:, 0].numpy(), arrays["train-images-idx3-ubyte"])
    assert np.array_equal(data.test_labels.numpy(), arrays["t10k-labels-idx1-ubyte"])
    assert data.reference(4).shape == (4, 3, 28, 28)


def test_data_root_from_environment(tmp_path, monkeypatch):
    fake_mnist(tmp_path)
    monkeypatch.setenv("GANBENCH_DATA_ROOT", str(tmp_path))
    assert build_dataset({"name": "mnist", "download": False, "limit": 5}).train_pixels.shape == (
        5,
        1,
        28,
        28,
    )


@pytest.mark.parametrize(
    ("name", "where"),
    [("mnist", "MNIST/raw"), ("fashion_mnist", "FashionMNIST/raw"), ("cifar10", "cifar-10-batches-py")],
)
def test_missing_files_give_one_line_naming_the_path(tmp_path, name, where):
    with pytest.raises(BadInput) as err:
        build_dataset({"name": name, "download": False, "limit": 0}, str(tmp_path))
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / where) in message and "download: true" in message


def test_imagefolder_resizes_crops_and_holds_out(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "pets" / cls).mkdir(parents=True)
        for i in range(10):
            pixels = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)  # not square: resized, then cropped
            Image.fromarray(pixels).save(tmp_path / "pets" / cls / f"{i}.png")
    data = build_dataset(
        {"name": "imagefolder", "path": "pets", "size": 8, "holdout": 0.2, "limit": 0}, str(tmp_path)
    )
    assert data.shape == (3, 8, 8) and len(data.train_pixels) == 16 and len(data.test_pixels) == 4
    assert data.num_classes == 2
    with pytest.raises(BadInput, match="no images in"):
        build_dataset(
            {"name": "imagefolder", "path": "nowhere", "size": 8, "holdout": 0.1, "limit": 0}, str(tmp_path)
        )


def test_missing_data_at_run_names_the_suite_file_and_entry(tmp_path, capsys):
    """`run` checks every dataset before training: the one line says which file and entry."""
    from ganbench.cli import main

    suite = tmp_path / "mn.yaml"
    suite.write_text(
        "name: mn\ndefaults: {steps: 2, model: {arch: dcgan, width: 8}}\n"
        "datasets: [ring8, mnist]\nvariants: {gan: {loss: ns}}\n"
    )
    code = main(["run", str(suite), "--out", str(tmp_path / "out"), "--data-root", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {suite}: datasets[1] (mnist): mnist: no data in {tmp_path}")
    assert not (tmp_path / "out" / "records").exists()  # nothing trained
