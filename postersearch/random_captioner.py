"""Builds BLIP captioning checkpoints with random weights, saved exactly like a real one.

Tests load a tiny one through the same transformers path as a downloaded captioner
(``AutoProcessor`` and ``AutoModelForImageTextToText``); its captions are gibberish made
of the words below, but they depend on the image, so a caption written to the wrong poster
shows. The benchmark builds the published BLIP architectures, since speed does not depend
on the weights. Nothing here touches the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Sentences the WordPiece vocabulary is trained on; they only decide which words the
# random captions are made of.
_TOKENIZER_CORPUS = [
    "a movie poster of a man holding a gun in front of a burning city",
    "a poster with red letters on a black background",
    "a woman standing in the rain under neon lights at night",
    "two children and a dog running across a green field",
    "a spaceship flying over a blue planet full of stars",
]
_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
# Larger than BLIP's 0.02: with the default, a random decoder writes the same words for
# every image; at this scale its captions follow the pixels.
_INITIALIZER_RANGE = 0.2


@dataclass(frozen=True)
class BlipShape:
    """The size of a BLIP captioner: its vision tower, and the text decoder beside it."""

    vision_hidden: int
    vision_intermediate: int
    vision_layers: int
    vision_heads: int
    image_size: int
    patch_size: int
    text_hidden: int
    text_intermediate: int
    text_layers: int
    text_heads: int
    vocab_size: int | None  # None: the trained WordPiece decides


TINY = BlipShape(32, 64, 2, 2, 32, 8, 32, 64, 2, 2, None)
# Salesforce/blip-image-captioning-base: ViT-B/16 at 384 px and a BERT-base decoder.
BLIP_BASE = BlipShape(768, 3072, 12, 12, 384, 16, 768, 3072, 12, 12, 30524)
# Salesforce/blip-image-captioning-large: ViT-L/16 at 384 px and the same decoder.
BLIP_LARGE = BlipShape(1024, 4096, 24, 16, 384, 16, 768, 3072, 12, 12, 30524)
SHAPES = {"tiny": TINY, "blip-base": BLIP_BASE, "blip-large": BLIP_LARGE}


def _train_tokenizer():  # type: ignore[no-untyped-def]
    # Lazy here and below: torch and transformers are needed only when a model is built.
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import BertTokenizer

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=_SPECIAL_TOKENS)
    tokenizer.train_from_iterator(_TOKENIZER_CORPUS, trainer)
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)]
    )
    # BLIP's own tokenizer is a BERT WordPiece with "[DEC]" as the decoder's start token.
    return BertTokenizer(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        bos_token="[DEC]",
        model_max_length=64,
    )


def build_random_captioner(
    out_dir: str | Path,
    shape: BlipShape = TINY,
    seed: int = 0,
) -> Path:
    """Writes a randomly initialised BLIP captioner with its processor to out_dir.

    Args:
        out_dir: Folder to write; created if missing.
        shape: Architecture to build (see SHAPES).
        seed: Torch seed, so that the same call gives the same weights.

    Returns:
        The folder, loadable as a captioning model by ``ingest.captioner.Captioner``.
    """
    import torch
    from transformers import (
        BlipConfig,
        BlipForConditionalGeneration,
        BlipImageProcessor,
        BlipProcessor,
    )

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = _train_tokenizer()
    if shape.vocab_size and shape.vocab_size > len(tokenizer):
        # Filler words up to the real vocabulary's size: a random decoder emits ids all
        # over it, and each must decode to a word, or its captions come out empty.
        filler = [f"w{i}" for i in range(shape.vocab_size - len(tokenizer))]
        tokenizer.add_tokens(filler)
    sep_id = tokenizer.sep_token_id
    config = BlipConfig(
        text_config=dict(
            hidden_size=shape.text_hidden,
            intermediate_size=shape.text_intermediate,
            num_hidden_layers=shape.text_layers,
            num_attention_heads=shape.text_heads,
            initializer_range=_INITIALIZER_RANGE,
            vocab_size=len(tokenizer),
            max_position_embeddings=512 if shape.vocab_size else 64,
            encoder_hidden_size=shape.vision_hidden,
            bos_token_id=tokenizer.bos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            sep_token_id=sep_id,
            eos_token_id=sep_id,
        ),
        vision_config=dict(
            hidden_size=shape.vision_hidden,
            intermediate_size=shape.vision_intermediate,
            num_hidden_layers=shape.vision_layers,
            num_attention_heads=shape.vision_heads,
            initializer_range=_INITIALIZER_RANGE,
            image_size=shape.image_size,
            patch_size=shape.patch_size,
        ),
        projection_dim=min(256, shape.vision_hidden),
        initializer_range=_INITIALIZER_RANGE,
    )
    model = BlipForConditionalGeneration(config)
    size = {"height": shape.image_size, "width": shape.image_size}
    processor = BlipProcessor(image_processor=BlipImageProcessor(size=size), tokenizer=tokenizer)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def captioner_or_random(name: str, cache_root: str | Path) -> str:
    """Resolves a model argument that may name a random shape (see SHAPES).

    A shape name is built once with random weights under ``cache_root/<name>`` and reused;
    anything else (a hub id or a local folder) is returned as given.
    """
    if name not in SHAPES:
        return name
    folder = Path(cache_root) / name
    if not (folder / "config.json").is_file():
        build_random_captioner(folder, SHAPES[name])
    return str(folder)
