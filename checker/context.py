"""The per-image context shared by all rules of one image.

It holds the decoded pixels and metadata, and computes expensive things lazily and
once: grayscale, generation metadata, and any *shared analysis* (hand landmarks, OCR)
through :meth:`ImageContext.shared`, which memoises a plain function by its
arguments. The context knows nothing about hands or text; rule families bring their
own analysis functions, so it does not grow into a god object.

Rules that read another image (ALIGN004's reference) decode it with :func:`load_image`,
the engine's own loader, exported here as part of the public rule API with the error it
raises, :class:`ImageLoadError`.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np

from .imageio import ImageLoadError, LoadedImage, load_image
from .metadata import GenerationMetadata, extract_metadata

__all__ = ["ImageContext", "ImageLoadError", "LoadedImage", "load_image"]

T = TypeVar("T")


class ImageContext:
    def __init__(self, path: str | Path, image: LoadedImage, reference_path: Path | None = None,
                 sidecar_text: str | None = None, expected_text: tuple[str, ...] = ()) -> None:
        self.path = Path(path)
        self.image = image
        self.reference_path = reference_path
        self.sidecar_text = sidecar_text
        self.expected_text = expected_text  # from config, for TEXT003
        self.observations: dict[str, Any] = {}
        self._memo: dict[Any, Any] = {}

    @property
    def rgb(self) -> np.ndarray:
        return self.image.rgb

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    @functools.cached_property
    def gray(self) -> np.ndarray:
        import cv2

        return cv2.cvtColor(self.image.rgb, cv2.COLOR_RGB2GRAY)

    @functools.cached_property
    def metadata(self) -> GenerationMetadata:
        return extract_metadata(self.image.info, self.image.exif, self.image.exif_ifd)

    @property
    def prompt(self) -> str | None:
        """The positive generation prompt, if the file carries one."""
        return self.metadata.positive_prompt

    def observe(self, key: str, value: Any) -> None:
        """Record what an analysis saw, for the report, whether or not any rule finds a defect
        (e.g. every detected hand with its finger count). JSON-friendly values only."""
        self.observations[key] = value

    def shared(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(self, *args)``, computed once per image for the same function and arguments.

        Arguments must be hashable (use frozen dataclasses for parameter sets)."""
        key = (fn.__module__, fn.__qualname__, args)
        if key not in self._memo:
            self._memo[key] = fn(self, *args)
        return self._memo[key]
