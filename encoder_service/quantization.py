"""int8 dynamic quantization of a tower's Linear layers, for the CPU.

On the CPU a SigLIP tower's time is almost all in its Linear layers; with int8 weights and
activations quantized on the fly (fbgemm/oneDNN, using VNNI where the CPU has it) they run
several times faster. Each Linear keeps its float32 bias and its output stays float32, so
everything around it (attention, layer norms, pooling) is unchanged.

An activation is quantized with one scale per call, which would make a text's vector
depend on the other texts of its batch; so each quantized layer runs its batch one item
at a time, and an item's vector is the same alone or batched, as in float32.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import nn


class PerItemLinear(nn.Module):
    """Runs a dynamically quantized Linear on each item of its batch separately.

    Args:
        quantized: The int8 layer; it picks its activation scale from the whole input.
    """

    def __init__(self, quantized: nn.Module) -> None:
        super().__init__()
        self.quantized = quantized

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[0] == 1:
            return self.quantized(x)
        return torch.cat([self.quantized(x[i : i + 1]) for i in range(x.shape[0])])


@dataclass
class QuantizedTower:
    """A tower whose Linear layers were swapped for int8 ones, and how to undo it."""

    tower: nn.Module
    originals: list[tuple[nn.Module, str, nn.Linear]]

    @property
    def layers(self) -> int:
        """How many Linear layers were quantized."""
        return len(self.originals)

    def restore(self) -> None:
        """Puts the float32 layers back."""
        for parent, name, linear in self.originals:
            setattr(parent, name, linear)
        self.originals = []


def int8_available() -> bool:
    """Whether this torch build can run int8 dynamic Linear layers on the CPU."""
    try:
        # The import is the probe: torch builds without int8 kernels lack the module.
        from torch.ao.nn.quantized.dynamic import Linear  # noqa: F401
    except ImportError:
        return False
    return bool(torch.backends.quantized.supported_engines)


def int8_engine() -> str:
    """The quantized engine the int8 layers use: oneDNN where this torch has it.

    On x86 CPUs with AVX-512 or VNNI, oneDNN runs the small matrices of one query (64
    tokens) about twice as fast as fbgemm (torch's "x86" default) does.
    """
    engines = torch.backends.quantized.supported_engines
    return "onednn" if "onednn" in engines else torch.backends.quantized.engine


def quantize_tower(tower: nn.Module) -> QuantizedTower:
    """Swaps every plain float32 nn.Linear of tower for an int8 dynamic one, in place.

    Sets torch's quantized engine (process-wide) to int8_engine(): the layers are packed
    for it and run with it; nothing else in this process runs quantized operators.

    Subclasses of nn.Linear are left alone: nn.MultiheadAttention reads its output
    projection's weight directly, so that layer must stay a float tensor.

    Args:
        tower: A module on the CPU in float32.

    Returns:
        The swap, which QuantizedTower.restore undoes.
    """
    # Only after int8_available() said these exist in this torch build.
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear
    from torch.ao.quantization import per_channel_dynamic_qconfig

    found = [
        (parent, name, child)
        for parent in tower.modules()
        for name, child in parent.named_children()
        if type(child) is nn.Linear and child.weight.dtype == torch.float32
    ]
    swapped = QuantizedTower(tower, [])
    torch.backends.quantized.engine = int8_engine()
    with warnings.catch_warnings():
        # torch announces that eager-mode quantization will move to torchao; it works
        # as documented in this torch, and int8_available says when it is gone.
        warnings.simplefilter("ignore")
        for parent, name, linear in found:
            # One weight scale per output channel: closer to float32 than one per tensor
            # at the same speed.
            linear.qconfig = per_channel_dynamic_qconfig  # type: ignore[assignment]
            quantized = DynamicLinear.from_float(linear)
            del linear.qconfig
            setattr(parent, name, PerItemLinear(quantized))
            swapped.originals.append((parent, name, linear))
    return swapped


# What a tower's int8 vectors are checked against float32 ones on at load: varied
# lengths, English and Korean, the kind of text people search posters with.
PROBE_TEXTS = (
    "dark red horror movie poster with a single face",
    "a neon city at night, cyberpunk, rain and reflections",
    "family comedy, bright colours, a dog and two children on a sofa",
    "black and white noir detective under a street lamp",
    "space",
    "a lone astronaut on a red desert planet with two moons in the sky",
    "romantic drama, a couple on a beach at sunset, soft pastel tones",
    "war film poster, soldiers in the mud, grey sky, explosions behind them",
    "animated fantasy with a dragon and a castle",
    "minimalist poster, white background, one small red circle",
    "네온사인이 많은 사이버펑크 느낌",
    "어두운 빨간색 공포 영화 포스터",
    "우주를 배경으로 한 공상과학 영화",
    "밝은 색감의 가족 코미디, 강아지와 아이들",
    "비 오는 밤거리의 누아르 탐정",
    "해 질 녘 바닷가의 연인, 부드러운 파스텔 색조",
)


def probe_images(size: int, count: int = 2) -> list[torch.Tensor]:
    """count poster-like (3, size, size) uint8 images: gradients with bright blocks."""
    generator = torch.Generator().manual_seed(0)
    ramp = torch.linspace(0, 1, size).view(1, size, 1)
    images = []
    for _ in range(count):
        top, bottom = (
            torch.rand(3, 1, 1, generator=generator),
            torch.rand(3, 1, 1, generator=generator),
        )
        image = top * (1 - ramp) + bottom * ramp
        image = image.expand(3, size, size).clone()
        for _ in range(4):
            y, x = (int(v) for v in torch.randint(0, size * 3 // 4, (2,), generator=generator))
            h, w = (int(v) for v in torch.randint(size // 8, size // 3, (2,), generator=generator))
            image[:, y : y + h, x : x + w] = torch.rand(3, 1, 1, generator=generator)
        noise = torch.randn(3, size, size, generator=generator) * 0.03
        images.append(((image + noise).clamp(0, 1) * 255).to(torch.uint8))
    return images
