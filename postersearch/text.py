"""What counts as text a model can read: the rule the encoder and the search service share.

Control characters (NUL and the like) and format characters (zero-width spaces and joiners,
direction marks, the byte-order mark) carry nothing a model can match. A text made of them
alone, with or without spaces, is empty, however many characters it has.
"""

from __future__ import annotations

import unicodedata

# Unicode categories that are never visible: control, format, surrogate, private use,
# unassigned, and the separators (spaces, line and paragraph separators).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def is_blank(text: str) -> bool:
    """True when text has no character a model can read."""
    return all(unicodedata.category(ch) in _INVISIBLE_CATEGORIES for ch in text)


def without_invisible(text: str) -> str:
    """text with control characters turned into spaces and format characters dropped."""
    out = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc":
            out.append(" ")
        elif category != "Cf":
            out.append(ch)
    return "".join(out)
