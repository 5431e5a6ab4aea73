"""Image datasets: torchvision's MNIST/Fashion-MNIST/CIFAR-10, CelebA, image folders, and
scikit-learn's real 8x8 handwritten digits, which ship with scikit-learn and so work offline.

Every dataset keeps a training split (what GANs train on and the metrics' classifier learns from)
and a held-out split (the reference that generated images are compared against). Pixels are
stored as uint8 [N, C, H, W] — a quarter of float32's memory, which matters for CelebA — and
the rows that are sampled are converted to float32 in [-1, 1].

Files are looked for under the data root: the ``data_root`` argument, else the environment
variable GANBENCH_DATA_ROOT, else ``./data``. Missing files raise ``BadInput`` with one line
naming the path and how to get the data. Loaded datasets are memoised per process, so the many
ensembles of a suite load each dataset once. torch is imported when a dataset is loaded, not with
this module (the suite loader reads the factories' signatures without it).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from ganbench.errors import BadInput
from ganbench.registry import DATASETS

if TYPE_CHECKING:
    import torch
    from torch import Tensor

HOLDOUT_SEED = 0  # fixed permutation for sets without an official test split


@dataclass(eq=False)
class ImageDataset:
    name: str
    params: dict  # resolved factory parameters, data_root excluded: keys on-disk caches
    train_pixels: Tensor  # uint8 [N, C, H, W]
    test_pixels: Tensor  # uint8 [M, C, H, W], held out
    train_labels: Tensor | None = None  # int64 [N]; None for unlabelled sets (CelebA)
    test_labels: Tensor | None = None
    kind: ClassVar[str] = "image"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.train_pixels.shape[1:])

    @property
    def num_classes(self) -> int:
        if self.train_labels is None:
            return 0
        return int(max(self.train_labels.max(), self.test_labels.max())) + 1

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        import torch

        rows = torch.randint(len(self.train_pixels), (n,), generator=generator)
        return to_float(self.train_pixels[rows])

    def reference(self, n: int) -> Tensor:
        """The first n held-out images (fewer if the split is smaller) as uint8 [n, 3, H, W]."""
        pixels = self.test_pixels[:n]
        return pixels.expand(-1, 3, -1, -1).contiguous() if pixels.shape[1] == 1 else pixels

    def train_split(self) -> tuple[Tensor, Tensor | None]:
        return to_float(self.train_pixels), self.train_labels

    def test_split(self) -> tuple[Tensor, Tensor | None]:
        return to_float(self.test_pixels), self.test_labels


def to_float(pixels: Tensor) -> Tensor:
    return pixels.float().div_(127.5).sub_(1.0)


def to_uint8(images: Tensor) -> Tensor:
    """float images in [-1, 1] -> uint8, as a saved PNG would hold them (NaN becomes 0)."""
    import torch

    scaled = (torch.nan_to_num(images.detach().float().cpu(), nan=-1.0) + 1) * 127.5
    return scaled.round_().clamp_(0, 255).to(torch.uint8)


def resolve_root(data_root: str | None) -> Path:
    return Path(data_root or os.environ.get("GANBENCH_DATA_ROOT") or "./data")


def _first_line(err: Exception) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def _limited(dataset: ImageDataset, limit: int) -> ImageDataset:
    """Keep the first `limit` training images (0: all); the held-out split is untouched."""
    if limit <= 0:
        return dataset
    labels = dataset.train_labels[:limit] if dataset.train_labels is not None else None
    return ImageDataset(
        dataset.name,
        dataset.params,
        dataset.train_pixels[:limit],
        dataset.test_pixels,
        labels,
        dataset.test_labels,
    )


# ----------------------------------------------------------------------------- torchvision sets


def _torchvision_split(cls: type, root: Path, train: bool, download: bool) -> tuple[Tensor, Tensor]:
    import torch

    data = cls(str(root), train=train, download=download)
    pixels = torch.as_tensor(data.data)
    pixels = pixels.unsqueeze(1) if pixels.dim() == 3 else pixels.permute(0, 3, 1, 2)  # MNIST HW, CIFAR HWC
    return pixels.contiguous(), torch.as_tensor(data.targets, dtype=torch.long)


@functools.lru_cache(maxsize=4)
def _load_torchvision(name: str, root: Path, download: bool, files: str) -> tuple[Tensor, ...]:
    import torchvision.datasets as tv

    cls = {"mnist": tv.MNIST, "fashion_mnist": tv.FashionMNIST, "cifar10": tv.CIFAR10}[name]
    try:
        return (
            *_torchvision_split(cls, root, True, download),
            *_torchvision_split(cls, root, False, download),
        )
    except (RuntimeError, OSError) as err:
        if download:
            raise BadInput(f"{name}: download into {root} failed ({_first_line(err)}); {files}") from None
        raise BadInput(
            f"{name}: no data in {root}; set download: true on a machine with internet, or {files}"
        ) from None


def _torchvision(name: str, data_root: str | None, download: bool, limit: int, files: str) -> ImageDataset:
    root = resolve_root(data_root)
    x_train, y_train, x_test, y_test = _load_torchvision(name, root, download, files.format(root=root))
    params = {"name": name, "download": download, "limit": limit}
    return _limited(ImageDataset(name, params, x_train, x_test, y_train, y_test), limit)


@DATASETS.register("mnist")
def mnist(download: bool = False, limit: int = 0, data_root: str | None = None) -> ImageDataset:
    """MNIST, 28x28 grey, 60,000 training and 10,000 test images (torchvision's files)."""
    files = "put the MNIST IDX files (train-images-idx3-ubyte, ...) in {root}/MNIST/raw"
    return _torchvision("mnist", data_root, download, limit, files)


@DATASETS.register("fashion_mnist")
def fashion_mnist(download: bool = False, limit: int = 0, data_root: str | None = None) -> ImageDataset:
    """Fashion-MNIST, 28x28 grey, 60,000 training and 10,000 test images (torchvision's files)."""
    files = "put the Fashion-MNIST IDX files (train-images-idx3-ubyte, ...) in {root}/FashionMNIST/raw"
    return _torchvision("fashion_mnist", data_root, download, limit, files)


@DATASETS.register("cifar10")
def cifar10(download: bool = False, limit: int = 0, data_root: str | None = None) -> ImageDataset:
    """CIFAR-10, 32x32 colour, 50,000 training and 10,000 test images (torchvision's files)."""
    files = "extract cifar-10-python.tar.gz so that {root}/cifar-10-batches-py exists"
    return _torchvision("cifar10", data_root, download, limit, files)


# ----------------------------------------------------------------------------- folders of images


def _decode(dataset: torch.utils.data.Dataset) -> tuple[Tensor, Tensor]:
    """Decode a PIL-backed dataset whose transform yields uint8 tensors, with loader workers."""
    import torch

    workers = min(8, os.cpu_count() or 1)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=256, num_workers=workers if len(dataset) > 2000 else 0
    )
    pixels, labels = zip(*[(x, torch.as_tensor(y)) for x, y in loader], strict=True)
    return torch.cat(pixels), torch.cat(labels).long()


def _square(size: int, crop: int | None = None):
    from torchvision import transforms

    steps = [transforms.CenterCrop(crop)] if crop else []
    steps += [transforms.Resize(size), transforms.CenterCrop(size), transforms.PILToTensor()]
    return transforms.Compose(steps)


@functools.lru_cache(maxsize=2)
def _load_celeba(root: Path, download: bool) -> tuple[Tensor, Tensor]:
    import torchvision.datasets as tv

    # Aligned CelebA is 178x218; the central 140x140 holds the face, resized to 64x64.
    try:
        splits = [
            tv.CelebA(str(root), split=s, target_type=[], transform=_square(64, 140), download=download)
            for s in ("train", "test")
        ]
    except (RuntimeError, OSError) as err:
        raise BadInput(
            f"celeba: no usable data in {root / 'celeba'} ({_first_line(err)}); put img_align_celeba/ and the annotation "
            f"files (list_eval_partition.txt, ...) there, or set download: true on a machine with internet"
        ) from None
    return _decode(_Unlabelled(splits[0]))[0], _decode(_Unlabelled(splits[1]))[0]


class _Unlabelled:
    """CelebA with target_type=[] yields (image, None); give the loader a constant label.
    (A map-style dataset for DataLoader: __len__ and __getitem__ are all it asks of one.)"""

    def __init__(self, inner: torch.utils.data.Dataset) -> None:
        self.inner = inner

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.inner[i][0], 0


@DATASETS.register("celeba")
def celeba(download: bool = False, limit: int = 0, data_root: str | None = None) -> ImageDataset:
    """CelebA, aligned faces, 64x64 centre crop; official train/test partition; no labels."""
    train, test = _load_celeba(resolve_root(data_root), download)
    params = {"name": "celeba", "download": download, "limit": limit}
    return _limited(ImageDataset("celeba", params, train, test), limit)


@functools.lru_cache(maxsize=2)
def _load_folder(path: Path, size: int, holdout: float) -> tuple[Tensor, ...]:
    from torchvision.datasets import ImageFolder

    try:
        folder = ImageFolder(str(path), transform=_square(size))
    except (FileNotFoundError, OSError) as err:
        raise BadInput(
            f"imagefolder: no images in {path} ({_first_line(err)}); expected one subfolder per class"
        ) from None
    import torch

    pixels, labels = _decode(folder)
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    n_test = max(1, round(holdout * len(pixels)))
    test, train = order[:n_test], order[n_test:]
    return pixels[train], labels[train], pixels[test], labels[test]


@DATASETS.register("imagefolder")
def imagefolder(
    path: str, size: int = 64, holdout: float = 0.1, limit: int = 0, data_root: str | None = None
) -> ImageDataset:
    """Images in `path` (absolute, or relative to the data root), one subfolder per class,
    resized and centre-cropped to size x size RGB; a fixed random `holdout` share is held out."""
    folder = Path(path) if Path(path).is_absolute() else resolve_root(data_root) / path
    x_train, y_train, x_test, y_test = _load_folder(folder, size, holdout)
    single_class = int(max(y_train.max(), y_test.max())) == 0
    labels = (None, None) if single_class else (y_train, y_test)
    params = {"name": "imagefolder", "path": path, "size": size, "holdout": holdout, "limit": limit}
    return _limited(ImageDataset("imagefolder", params, x_train, x_test, *labels), limit)


# ----------------------------------------------------------------------------- offline digits


@functools.lru_cache(maxsize=4)
def _load_digits(size: int, holdout: float) -> tuple[Tensor, ...]:
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.as_tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # values 0..16
    images = (
        F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False)
        if size != 8
        else images
    )
    pixels = (images * 255).round().clamp(0, 255).to(torch.uint8)
    labels = torch.as_tensor(digits.target, dtype=torch.long)
    # The file is ordered by writer; shuffle so both splits see every writer.
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    n_test = round(holdout * len(pixels))
    test, train = order[:n_test], order[n_test:]
    return pixels[train], labels[train], pixels[test], labels[test]


@DATASETS.register("digits")
def digits(size: int = 16, holdout: float = 0.2, limit: int = 0) -> ImageDataset:
    """scikit-learn's 1,797 real 8x8 handwritten digits (UCI), bilinearly upscaled to size x size."""
    if size < 8:
        raise BadInput(f"digits: size must be at least 8 (the images are 8x8), got {size}")
    if not 0 < holdout < 1:
        raise BadInput(f"digits: holdout must be a share between 0 and 1, got {holdout}")
    x_train, y_train, x_test, y_test = _load_digits(size, holdout)
    params = {"name": "digits", "size": size, "holdout": holdout, "limit": limit}
    return _limited(ImageDataset("digits", params, x_train, x_test, y_train, y_test), limit)
