"""ganbench: a declarative GAN benchmark and reproducibility harness."""

__version__ = "0.1.0"
