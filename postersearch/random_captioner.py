"""Builds a tiny BLIP captioning checkpoint with random weights, saved exactly like a real one.

Tests load it through the same transformers path as a downloaded captioner
(``AutoProcessor`` and ``AutoModelForImageTextToText``); its captions are gibberish made
of the words below, but they depend on the image, so a caption written to the wrong poster
shows. Nothing here touches the network.
"""

from __future__ import annotations

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
_IMAGE_SIZE = 32
# Larger than BLIP's 0.02: with the default, a random decoder writes the same words for
# every image; at this scale its captions follow the pixels.
_INITIALIZER_RANGE = 0.2


def _train_tokenizer():  # type: ignore[no-untyped-def]
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


def build_random_captioner(out_dir: str | Path, seed: int = 0) -> Path:
    """Writes a randomly initialised tiny BLIP captioner with its processor to out_dir.

    Args:
        out_dir: Folder to write; created if missing.
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
    tower = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        initializer_range=_INITIALIZER_RANGE,
    )
    sep_id = tokenizer.sep_token_id
    config = BlipConfig(
        text_config=dict(
            tower,
            vocab_size=len(tokenizer),
            max_position_embeddings=64,
            encoder_hidden_size=32,
            bos_token_id=tokenizer.bos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            sep_token_id=sep_id,
            eos_token_id=sep_id,
        ),
        vision_config=dict(tower, image_size=_IMAGE_SIZE, patch_size=8),
        projection_dim=32,
        initializer_range=_INITIALIZER_RANGE,
    )
    model = BlipForConditionalGeneration(config)
    image_processor = BlipImageProcessor(size={"height": _IMAGE_SIZE, "width": _IMAGE_SIZE})
    processor = BlipProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out
