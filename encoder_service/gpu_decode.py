"""JPEG decoding on the GPU with nvJPEG (torchvision), when torchvision and CUDA are present.

On a GPU, decoding on the CPU caps throughput well below what the model can take; nvJPEG
decodes a whole batch on the device. torchvision is an optional extra, imported lazily:
without it, or for any file nvJPEG refuses, images take the CPU path instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import torch

log = logging.getLogger(__name__)

_JPEG_START = b"\xff\xd8\xff"
_JPEG_END = b"\xff\xd9"


class JpegDecoder(Protocol):
    """Decodes whole batches of JPEG files straight to resized pixels on the model's device."""

    def decode(self, files: Sequence[bytes], size: int) -> list[torch.Tensor] | None:
        """(3, size, size) uint8 tensors, one per file, or None to leave the batch to Pillow."""
        ...


def load_gpu_decoder(device: str) -> GpuJpegDecoder | None:
    """A GPU JPEG decoder for device, or None when torchvision or CUDA is missing."""
    if not device.startswith("cuda") or not torch.cuda.is_available():
        return None
    try:
        # Here, not at the top: torchvision is an optional extra (gpu).
        import torchvision.io
    except ImportError:
        log.info("torchvision is not installed: JPEGs are decoded on the CPU")
        return None
    return GpuJpegDecoder(device, torchvision.io)


def is_complete_jpeg(data: bytes) -> bool:
    """True for data that starts and ends like a JPEG; truncated files go to the CPU path,
    where Pillow reports them precisely instead of nvJPEG decoding garbage."""
    return data.startswith(_JPEG_START) and data.rstrip(b"\x00").endswith(_JPEG_END)


class GpuJpegDecoder:
    """Decodes baseline RGB/grayscale JPEGs on the GPU and resizes them there."""

    def __init__(self, device: str, tv_io: Any) -> None:
        self._device = device
        self._io = tv_io

    def decode(self, files: Sequence[bytes], size: int) -> list[torch.Tensor] | None:
        """Decodes and resizes files to (3, size, size) uint8 tensors on the GPU.

        Returns:
            One tensor per file, or None when nvJPEG refused the batch (the caller then
            decodes it on the CPU).
        """
        try:
            data = [torch.frombuffer(bytearray(f), dtype=torch.uint8) for f in files]
            decoded = self._io.decode_jpeg(
                data, mode=self._io.ImageReadMode.RGB, device=self._device
            )
            out = []
            for img in decoded:
                resized = torch.nn.functional.interpolate(
                    img.unsqueeze(0).float(),
                    size=(size, size),
                    mode="bicubic",
                    antialias=True,
                    align_corners=False,
                )
                out.append(resized.squeeze(0).round_().clamp_(0, 255).to(torch.uint8))
            return out
        except Exception as exc:  # whatever nvJPEG raises, Pillow gets a second chance
            log.warning("nvJPEG refused a batch of %d (%s); using the CPU", len(files), exc)
            return None
