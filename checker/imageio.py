"""Decoding images safely: read-only, once, with clear errors.

The file is read into memory with a plain read-only open (no lock, no write, no
move). Decoding uses libspng (pyspng) for plain 8-bit RGB and RGBA PNG (a third faster
than OpenCV's libpng, the same pixels), OpenCV for the other ordinary 8-bit JPEG/PNG (about
3x faster than PIL for JPEG) and PIL for everything else (CMYK, 16-bit, palette, animation).
Pixels come out as RGB uint8 in the displayed orientation (EXIF rotation applied).
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DaskSetupError
from .inputs import is_url, read_url
from .quiet import native_stderr_silenced
# the largest image decoded (width x height): the default of the max-pixels option
DEFAULT_MAX_PIXELS = 100_000_000


class ImageLoadError(Exception):
    """The file cannot be judged as an image; the message says why."""

    def __init__(self, message: str, **measurements: Any) -> None:
        super().__init__(message)
        self.measurements = measurements


@dataclass(frozen=True)
class LoadedImage:
    rgb: np.ndarray  # H x W x 3 uint8, displayed orientation; with transparency, see composite_on_contrast
    alpha: np.ndarray | None
    format: str
    mode: str
    frames: int
    exif_orientation: int
    sha256: str
    info: dict[str, Any] = field(default_factory=dict)  # PIL's text chunks and friends
    exif: dict[int, Any] = field(default_factory=dict)
    exif_ifd: dict[int, Any] = field(default_factory=dict)  # the Exif sub-IFD (UserComment lives there)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def read_bytes(path: Path) -> bytes:
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ImageLoadError("file not found (or a broken symlink)") from None
    except OSError as exc:
        raise ImageLoadError(f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise ImageLoadError("is a directory, not an image")
    if not stat.S_ISREG(mode):
        # a FIFO or device would block or never end: never open it
        raise ImageLoadError("not a regular file (a pipe, socket or device)")
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except IsADirectoryError:
        raise ImageLoadError("is a directory, not an image") from None
    except PermissionError as exc:
        raise ImageLoadError(f"cannot read the file: permission denied ({exc.strerror})") from None
    except OSError as exc:
        raise ImageLoadError(f"cannot read the file: {exc.strerror or exc}") from None


def read_source(source: str) -> bytes:
    """The bytes of a local file or a URL; ImageLoadError says why they cannot be read."""
    if not is_url(source):
        return read_bytes(Path(source))
    try:
        return read_url(source)
    except FileNotFoundError:
        raise ImageLoadError("cannot read the file: no such file at this URL") from None
    except (OSError, ImportError, DaskSetupError) as exc:
        raise ImageLoadError(f"cannot read the file: {type(exc).__name__}: {exc}") from None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# the first bytes of a Git LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md):
# what a clone without git-lfs, or a hook reading the index, holds instead of the image
LFS_POINTER = b"version https://git-lfs.github.com/spec/"
PNG_TEXT_CHUNK_LIMIT = 64 << 20  # bytes of one decompressed PNG text chunk
PNG_TEXT_MEMORY_LIMIT = 256 << 20  # bytes of all of them


def load_image(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS, data: bytes | None = None,
               sha256: str | None = None) -> LoadedImage:
    """Decode the image at ``path`` (or its bytes ``data``, with their digest ``sha256``
    when the caller has hashed them already: hashing costs ~0.4 ms per MB)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if data is None:
        data, sha256 = read_bytes(path), None
    digest = sha256 if sha256 is not None else sha256_of(data)
    if not data:
        raise ImageLoadError("empty file (0 bytes)", bytes=0)
    if data.startswith(LFS_POINTER):
        raise ImageLoadError("a Git LFS pointer, not the image: fetch the images with `git lfs pull`",
                             bytes=len(data))
    Image.MAX_IMAGE_PIXELS = None  # we apply our own limit below, with a clear message
    # Pillow refuses PNG text chunks over 1 MiB decompressed (64 MiB in all): ComfyUI workflows
    # of several MiB made valid images "unreadable" and hid their metadata leak
    from PIL import PngImagePlugin

    PngImagePlugin.MAX_TEXT_CHUNK = max(PngImagePlugin.MAX_TEXT_CHUNK, PNG_TEXT_CHUNK_LIMIT)
    PngImagePlugin.MAX_TEXT_MEMORY = max(PngImagePlugin.MAX_TEXT_MEMORY, PNG_TEXT_MEMORY_LIMIT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pil = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageLoadError("not an image file (format not recognised)", bytes=len(data)) from None
    except Exception as exc:  # noqa: BLE001 - any decoder error is a bad file
        if "text chunk" in str(exc).lower() or "MAX_TEXT_CHUNK" in str(exc):
            raise ImageLoadError(f"its PNG metadata text is larger than noticer reads "
                                 f"({PNG_TEXT_CHUNK_LIMIT >> 20} MiB a chunk, {PNG_TEXT_MEMORY_LIMIT >> 20} MiB "
                                 f"in all): {exc}", bytes=len(data)) from None
        raise ImageLoadError(f"cannot open image: {exc}", bytes=len(data)) from None

    try:
        width, height = pil.size
        fmt = (pil.format or "").upper()
        mode = pil.mode
        # reading the frame count walks the file: a truncated GIF raises here (IndexError)
        frames = int(getattr(pil, "n_frames", 1) or 1)
    except Exception as exc:  # noqa: BLE001 - any decoder error is a bad file
        raise ImageLoadError(f"corrupt or truncated image data: {type(exc).__name__}: {exc}",
                             bytes=len(data)) from None
    if width * height > max_pixels:
        raise ImageLoadError(
            f"declared size {width}x{height} ({width * height} pixels) exceeds max-pixels {max_pixels}; "
            "possible decompression bomb",
            declared_width=width, declared_height=height, max_pixels=max_pixels,
        )
    try:
        if fmt == "PNG" and not png_has_late_metadata(data):
            # PIL's PNG getexif() decodes the whole image to look for an eXIf chunk after the
            # pixels; the chunk walk says there is none, so the generic reader, which takes
            # what the header holds (eXIf, ImageMagick's "Raw profile type exif"), is enough
            exif_obj = Image.Image.getexif(pil)
        else:
            exif_obj = pil.getexif()
        exif = dict(exif_obj)
        exif_ifd = dict(exif_obj.get_ifd(0x8769))
    except Exception:  # noqa: BLE001 - broken EXIF is not a broken image
        exif, exif_ifd = {}, {}
    orientation = int(exif.get(0x0112, 1) or 1)
    info = {k: v for k, v in pil.info.items() if isinstance(k, str)}

    rgb = alpha = None
    # an animated PNG (an acTL chunk before the pixels) goes to PIL even when PIL counts one
    # frame: OpenCV's own APNG reader crashed the process (SIGSEGV) on damaged ones
    layout = spng_layout(data) if fmt == "PNG" and frames == 1 else None
    if layout == "RGB" and mode == "RGB":
        rgb = _decode_spng(data, "RGB")
    elif layout == "RGBA" and mode == "RGBA" and orientation == 1:
        rgba = _decode_spng(data, "RGBA")
        if rgba is not None:  # what PIL's path below makes of it, from the same pixels
            colour, alpha = split_rgba(rgba)
            rgb = composite_on_contrast(colour, alpha)
    if rgb is None and fmt in ("JPEG", "PNG") and mode in ("RGB", "L") and frames == 1 and not (
            fmt == "PNG" and is_apng(data)):
        # libpng and libjpeg print their warnings (`libpng warning: iCCP: known incorrect
        # sRGB profile`) straight to fd 2: the user's stderr is for noticer's own messages
        with native_stderr_silenced():
            rgb = _decode_cv2(data)  # applies EXIF orientation itself
    if rgb is None:
        try:
            with warnings.catch_warnings(), native_stderr_silenced():  # libtiff, libwebp chatter
                warnings.simplefilter("ignore")
                pil.seek(0)
                pil.load()
                frame = ImageOps.exif_transpose(pil) if orientation != 1 else pil
                rgb, alpha = _pil_to_rgb(frame)
        except Exception as exc:  # noqa: BLE001
            raise ImageLoadError(f"corrupt or truncated image data: {exc}", format=fmt, bytes=len(data)) from None
    elif fmt == "PNG":
        # cv2 decodes truncated PNGs partially without complaint; make PIL verify the stream.
        try:
            Image.open(io.BytesIO(data)).verify()
        except Exception as exc:  # noqa: BLE001
            raise ImageLoadError(f"corrupt or truncated image data: {exc}", format=fmt, bytes=len(data)) from None
    return LoadedImage(rgb=rgb, alpha=alpha, format=fmt, mode=mode, frames=frames,
                       exif_orientation=orientation, sha256=digest, info=info, exif=exif, exif_ifd=exif_ifd)


PNG_METADATA_CHUNKS = (b"eXIf", b"tEXt", b"zTXt", b"iTXt")


def png_chunk_kinds(data: bytes):
    """The type (4 bytes) of each chunk of a PNG, in order, as far as its length fields lead
    (each chunk: length, type, data, CRC); the caller decides what a list that runs out
    before IEND means."""
    pos = 8
    while pos + 8 <= len(data):
        yield data[pos + 4:pos + 8]
        pos += 12 + int.from_bytes(data[pos:pos + 4], "big")


def is_apng(data: bytes) -> bool:
    """Whether a PNG announces animation (an acTL chunk before the first IDAT). A malformed
    chunk list answers True: PIL, not OpenCV, then decodes it (PIL fails with an exception)."""
    for kind in png_chunk_kinds(data):
        if kind == b"acTL":
            return True
        if kind in (b"IDAT", b"IEND"):
            return False
    return True


def png_has_late_metadata(data: bytes) -> bool:
    """Whether a PNG has metadata chunks PIL only sees after decoding the pixels: an eXIf
    chunk anywhere but the header (PIL reads it there), or text chunks after the image data.
    A malformed chunk list answers True, so the slow, careful path is taken."""
    seen_pixels = False
    for kind in png_chunk_kinds(data):
        if kind == b"IDAT":
            seen_pixels = True
        elif kind == b"IEND":
            return False
        elif seen_pixels and kind in PNG_METADATA_CHUNKS:
            return True
    return True


def spng_layout(data: bytes) -> str | None:
    """The layout libspng decodes a PNG to: "RGB" or "RGBA" when the PNG is one frame of 8-bit
    RGB or RGBA (colour type 2 or 6) without an eXIf chunk before its end, which libspng
    decodes to the very pixels OpenCV (RGB) or PIL (RGBA) gives. Neither applies gamma or a
    colour profile, nor (OpenCV) a tRNS colour; OpenCV would turn the image by an eXIf
    orientation and libspng does not. Else None, also for a malformed or unended chunk list
    (the other decoders' path)."""
    if len(data) < 33 or data[12:16] != b"IHDR" or data[24] != 8 or data[25] not in (2, 6):
        return None
    for kind in png_chunk_kinds(data):
        if kind in (b"acTL", b"eXIf"):
            return None
        if kind == b"IEND":
            return "RGB" if data[25] == 2 else "RGBA"
    return None


def _decode_spng(data: bytes, layout: str) -> np.ndarray | None:
    """The pixels of a PNG of ``spng_layout`` ``layout`` by libspng, or None (pyspng
    missing, or the data is damaged: the other decoders then decode what they can and PIL's
    check names the fault). The bench folder's 48 PNGs (mostly 1024 px, RGB): 10 ms each
    against OpenCV's 15."""
    try:
        import pyspng
    except ImportError:
        return None
    try:
        pixels = pyspng.load(data, layout)
    except Exception:  # noqa: BLE001 - any decoder error: the other path decides
        return None
    ok = pixels.ndim == 3 and pixels.shape[2] == len(layout) and pixels.dtype == np.uint8
    return pixels if ok else None


def _decode_cv2(data: bytes) -> np.ndarray | None:
    import cv2

    try:  # OpenCV prints its own warnings for broken files; ours are clearer
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except AttributeError:
        pass

    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    if data[:2] == b"\xff\xd8" and not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
        raise ImageLoadError("corrupt or truncated JPEG (no end-of-image marker)", format="JPEG", bytes=len(data))
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _pil_to_rgb(img) -> tuple[np.ndarray, np.ndarray | None]:
    mode = img.mode
    alpha = None
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        peak = 65535.0 if arr.max(initial=0) > 255 else 255.0
        gray = np.clip(arr / peak * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), None
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min(initial=0)), float(arr.max(initial=1))
        gray = np.clip((arr - lo) / max(hi - lo, 1e-9) * 255.0, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2), None
    if mode in ("P", "PA"):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "La", "RGBa"):
        colour, alpha = split_rgba(np.asarray(img.convert("RGBA")))
        return composite_on_contrast(colour, alpha), alpha
    return np.ascontiguousarray(np.asarray(img.convert("RGB"))), None


def split_rgba(rgba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The colour (H x W x 3) and alpha (H x W) of an H x W x 4 uint8 array, each contiguous.
    OpenCV takes a 1024-px image's colour out in ~0.2 ms, numpy's copy of the strided view ~8."""
    import cv2

    rgba = np.ascontiguousarray(rgba)
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2RGB), cv2.extractChannel(rgba, 3)


def composite_on_contrast(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """An image with transparency as it shows on a page: blended over a plain ground that
    contrasts with its opaque pixels (white under dark content, black under light). The
    colour channels under transparent pixels are often black or leftovers, so taken as they
    are a black logo or sticker text on a transparent ground becomes black on black."""
    if alpha.min(initial=255) == 255:
        return np.ascontiguousarray(rgb)
    opaque = alpha >= 128
    if not opaque.any():
        return np.ascontiguousarray(rgb)
    # the opaque pixels' colours, an (N, 3) array gathered a channel at a time: numpy picks
    # single bytes by a mask four times faster than 3-byte pixels (~5 ms against ~18 for a
    # 1024-px image); the same array, so the same luma and mean
    picked = np.stack([rgb[:, :, c][opaque] for c in range(3)], axis=1)
    luma = picked.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    ground = 255.0 if float(luma.mean()) < 128 else 0.0
    # the blend, rgb * w + ground * (1 - w) rounded, is the pixel itself where alpha is 255
    # and the ground where it is 0 (exactly so in float32): only the pixels in between are
    # computed (a 1024-px cut-out with a few edges: ~10 ms instead of ~50)
    out = np.array(rgb, order="C")
    out[alpha == 0] = np.uint8(ground)
    partial = (alpha > 0) & (alpha < 255)
    if partial.any():
        weight = alpha[partial].astype(np.float32)[:, None] / 255.0
        blended = rgb[partial].astype(np.float32) * weight + ground * (1.0 - weight)
        out[partial] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return out
