"""Builds SigLIP checkpoints with random weights, saved exactly like a real one.

Tests load a tiny one through the same sentence-transformers path as a downloaded
checkpoint; benchmarks build the published architecture of the default model, since
speed does not depend on the weights. Nothing here touches the network.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

# Sentences the byte-level BPE is trained on. Byte-level BPE covers any UTF-8 text
# (Korean included) whatever it was trained on; these only shape its merges.
_TOKENIZER_CORPUS = [
    "dark red horror movie poster with a single face",
    "a neon city at night, cyberpunk, rain and reflections",
    "a family comedy poster with bright colours",
    "네온사인이 많은 사이버펑크 느낌",
    "어두운 빨간색 공포 영화 포스터",
    "우주를 배경으로 한 공상과학 영화",
]


@dataclass(frozen=True)
class SiglipShape:
    """The size of a SigLIP model: both towers share width, depth and heads here."""

    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    image_size: int
    patch_size: int
    max_text_tokens: int
    vocab_size: int | None  # None: the trained byte-level BPE decides


TINY = SiglipShape(
    hidden_size=32,
    intermediate_size=64,
    num_layers=2,
    num_heads=2,
    image_size=32,
    patch_size=8,
    max_text_tokens=32,
    vocab_size=None,
)
# The ingest benchmark's model: tiny towers with real-sized 768-d vectors.
TINY_768 = SiglipShape(
    hidden_size=768,
    intermediate_size=768,
    num_layers=1,
    num_heads=4,
    image_size=32,
    patch_size=16,
    max_text_tokens=32,
    vocab_size=None,
)
# google/siglip2-base-patch16-256: ViT-B/16 at 256 px, 12 layers, 768 wide, MLP 3072,
# a 256k-token Gemma vocabulary and 64 text tokens.
SIGLIP2_BASE_256 = SiglipShape(
    hidden_size=768,
    intermediate_size=3072,
    num_layers=12,
    num_heads=12,
    image_size=256,
    patch_size=16,
    max_text_tokens=64,
    vocab_size=256_000,
)
SHAPES = {"tiny": TINY, "tiny-768": TINY_768, "siglip2-base-256": SIGLIP2_BASE_256}


def _train_tokenizer(max_tokens: int, vocab_size: int | None):  # type: ignore[no-untyped-def]
    # Lazy here and below: the demo imports this module, and needs torch and transformers
    # only when it builds a stand-in.
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_TOKENIZER_CORPUS, trainer)
    eos_id = tokenizer.token_to_id("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", eos_id)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=max_tokens,
    )
    # A real vocabulary's size matters for the embedding table's cost, not for the tokens
    # the BPE emits, so the model may be larger than the tokenizer.
    model_vocab = max(vocab_size or 0, tokenizer.get_vocab_size())
    return fast, model_vocab


def build_random_siglip(out_dir: str | Path, shape: SiglipShape = TINY, seed: int = 0) -> Path:
    """Writes a randomly initialised SigLIP model with its processor to out_dir.

    Args:
        out_dir: Folder to write; created if missing.
        shape: Architecture to build (see SHAPES).
        seed: Torch seed, so that the same call gives the same weights.

    Returns:
        The folder, loadable by ``SentenceTransformer(str(path))``.
    """
    import torch
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel, SiglipProcessor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer, vocab = _train_tokenizer(shape.max_text_tokens, shape.vocab_size)
    tower = dict(
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
    )
    config = SiglipConfig(
        text_config=dict(
            tower,
            vocab_size=vocab,
            max_position_embeddings=shape.max_text_tokens,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            bos_token_id=None,
        ),
        vision_config=dict(tower, image_size=shape.image_size, patch_size=shape.patch_size),
    )
    model = SiglipModel(config)
    with torch.no_grad():
        # The calibration SigLIP's training starts from (scale 10, bias -10), so that a
        # random checkpoint carries a match probability of the same form as a real one.
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-10.0)
    image_processor = SiglipImageProcessor(
        size={"height": shape.image_size, "width": shape.image_size}
    )
    processor = SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def model_or_random(name: str, cache_root: str | Path) -> str:
    """Resolves a model argument that may name a random shape (see SHAPES).

    A shape name is built once with random weights under ``cache_root/<name>`` and reused;
    anything else (a hub id or a local folder) is returned as given.
    """
    if name not in SHAPES:
        return name
    folder = Path(cache_root) / name
    if not (folder / "config.json").is_file():
        build_random_siglip(folder, SHAPES[name])
    return str(folder)
