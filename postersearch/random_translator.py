"""Builds MarianMT translation checkpoints with random weights, saved like a real one.

Tests load a tiny one through the same transformers path as a downloaded translator; the
benchmark builds the published architecture of the default translator
(Helsinki-NLP/opus-mt-ko-en), since speed does not depend on the weights. The tokenizer is
a byte-level BPE (covering any UTF-8 text, Korean included) saved as a fast tokenizer;
ids of the model's larger vocabulary that it does not know decode to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

_CORPUS = [
    "네온사인이 많은 사이버펑크 느낌",
    "a neon city at night with many signs, cyberpunk",
    "어두운 빨간색 공포 영화 포스터",
    "a dark red horror movie poster",
    "우주를 배경으로 한 공상과학 영화",
    "a science fiction movie set in space",
]


@dataclass(frozen=True)
class MarianShape:
    """The size of a MarianMT model (encoder and decoder alike)."""

    d_model: int
    ffn_dim: int
    layers: int
    heads: int
    vocab_size: int | None  # None: the trained tokenizer's size
    max_positions: int


TINY_TRANSLATOR = MarianShape(
    d_model=16, ffn_dim=32, layers=1, heads=2, vocab_size=None, max_positions=64
)
# Helsinki-NLP/opus-mt-ko-en: 6 encoder and 6 decoder layers, 512 wide, 8 heads, FFN
# 2048, a 65,001-token vocabulary shared by both sides, 512 positions.
OPUS_MT_KO_EN = MarianShape(
    d_model=512, ffn_dim=2048, layers=6, heads=8, vocab_size=65_001, max_positions=512
)
TRANSLATOR_SHAPES = {"tiny": TINY_TRANSLATOR, "opus-mt-ko-en": OPUS_MT_KO_EN}


def build_random_translator(
    out_dir: str | Path, shape: MarianShape = TINY_TRANSLATOR, seed: int = 0
) -> Path:
    """Writes a randomly initialised MarianMT model with its tokenizer to out_dir.

    Returns:
        The folder, loadable by ``AutoModelForSeq2SeqLM.from_pretrained(path)``.
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import MarianConfig, MarianMTModel, PreTrainedTokenizerFast

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>", "</s>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_CORPUS, trainer)
    eos_id, pad_id = tokenizer.token_to_id("</s>"), tokenizer.token_to_id("<pad>")
    assert eos_id is not None and pad_id is not None  # trained as special tokens above
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", eos_id)]
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=shape.max_positions,
    )
    if shape.vocab_size and shape.vocab_size > tokenizer.get_vocab_size():
        # Every id of the real-sized vocabulary decodes to a word, so that a translation
        # has text (and a length) like a real one's, not the empty string.
        fast.add_tokens([f" w{i}" for i in range(tokenizer.get_vocab_size(), shape.vocab_size)])
    vocab = max(shape.vocab_size or 0, len(fast))
    config = MarianConfig(
        vocab_size=vocab,
        decoder_vocab_size=vocab,
        d_model=shape.d_model,
        encoder_layers=shape.layers,
        decoder_layers=shape.layers,
        encoder_attention_heads=shape.heads,
        decoder_attention_heads=shape.heads,
        encoder_ffn_dim=shape.ffn_dim,
        decoder_ffn_dim=shape.ffn_dim,
        max_position_embeddings=shape.max_positions,
        pad_token_id=pad_id,
        eos_token_id=eos_id,
        forced_eos_token_id=eos_id,
        decoder_start_token_id=pad_id,
        activation_function="swish",
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
    )
    model = MarianMTModel(config)
    model.generation_config.pad_token_id = pad_id
    model.generation_config.eos_token_id = eos_id
    model.generation_config.decoder_start_token_id = pad_id
    model.save_pretrained(out)
    fast.save_pretrained(out)
    return out


def translator_or_random(name: str, cache_root: str | Path) -> str:
    """Resolves a translator argument that may name a random shape (see TRANSLATOR_SHAPES).

    A shape name is built once with random weights under ``cache_root/translator-<name>``
    and reused; anything else (a hub id or a local folder) is returned as given.
    """
    if name not in TRANSLATOR_SHAPES:
        return name
    folder = Path(cache_root) / f"translator-{name}"
    if not (folder / "config.json").is_file():
        build_random_translator(folder, TRANSLATOR_SHAPES[name])
    return str(folder)
