"""How a model family's text tower was trained to read text, applied before its tokenizer.

SigLIP and SigLIP2 were trained on canonicalised text: big_vision's SigLIP input pipeline
and OpenCLIP's SigLIP configs (``clean: canonicalize``) lower-case the text, remove ASCII
punctuation and collapse whitespace before tokenizing, and Keras Hub's SigLIP preprocessor
does the same by default. A query typed "Dark RED Horror!" must therefore reach the model as
"dark red horror", the text it learnt from; only some checkpoints' tokenizers do it
themselves (SiglipTokenizer does, the Gemma tokenizer of SigLIP2 does not), so the encoder
does it for the whole family, read from the checkpoint's ``model_type``. CLIP's tokenizer
lower-cases on its own and keeps punctuation, as CLIP was trained.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

_PUNCTUATION = str.maketrans("", "", string.punctuation)


@dataclass(frozen=True)
class TextPreprocessing:
    """What is done to a text before the tokenizer.

    Attributes:
        family: The model family it was read from (the config's ``model_type``).
        lowercase: Lower-case the text.
        strip_punctuation: Remove ASCII punctuation (``string.punctuation``), as
            OpenCLIP's ``canonicalize_text`` does; underscores become spaces first.
    """

    family: str
    lowercase: bool
    strip_punctuation: bool

    def apply(self, text: str) -> str:
        """text as the model family was trained to read it; whitespace always collapsed."""
        if self.strip_punctuation:
            text = text.replace("_", " ").translate(_PUNCTUATION)
        if self.lowercase:
            text = text.lower()
        return " ".join(text.split())

    def describe(self) -> str:
        """e.g. "siglip: lowercase, punctuation removed, whitespace collapsed"."""
        steps = []
        if self.lowercase:
            steps.append("lowercase")
        if self.strip_punctuation:
            steps.append("punctuation removed")
        steps.append("whitespace collapsed")
        return f"{self.family or 'unknown family'}: {', '.join(steps)}"


# Families trained on canonicalised text (lowercase, no punctuation).
_CANONICAL_FAMILIES = frozenset({"siglip", "siglip2"})
# Families whose tokenizer lower-cases by itself and was trained with punctuation.
_LOWERCASE_FAMILIES = frozenset({"clip"})


def preprocessing_for(config: Any) -> TextPreprocessing:
    """The text preprocessing of the model family a checkpoint's config names.

    Args:
        config: A transformers config (its ``model_type`` names the family), or None.
    """
    family = str(getattr(config, "model_type", "") or "")
    if family in _CANONICAL_FAMILIES:
        return TextPreprocessing(family, lowercase=True, strip_punctuation=True)
    if family in _LOWERCASE_FAMILIES:
        return TextPreprocessing(family, lowercase=True, strip_punctuation=False)
    # An unknown family keeps its text as typed: its tokenizer knows best.
    return TextPreprocessing(family, lowercase=False, strip_punctuation=False)
