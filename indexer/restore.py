"""Put diacritics back on a query typed without them, using the knowledge base's own words.

E5 embeds "thoi han bao ho nhan hieu" poorly; "thời hạn bảo hộ nhãn hiệu" well. In a closed
domain the corpus tells which accented form a folded word or word pair almost always stands for.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from indexer.textnorm import fold, nfc

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TEXTS = 20000  # enough vocabulary for a domain; bounds memory on very large indexes


class DiacriticRestorer:
    def __init__(self, unigrams: dict[str, str], bigrams: dict[str, str]) -> None:
        self.unigrams = unigrams
        self.bigrams = bigrams

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> DiacriticRestorer:
        uni: dict[str, Counter] = defaultdict(Counter)
        bi: dict[str, Counter] = defaultdict(Counter)
        for n, text in enumerate(texts):
            if n >= MAX_TEXTS:
                break
            words = _WORD.findall(nfc(text).lower())
            folded = [fold(w) for w in words]
            for w, f in zip(words, folded):
                uni[f][w] += 1
            for i in range(len(words) - 1):
                bi[f"{folded[i]} {folded[i + 1]}"][f"{words[i]} {words[i + 1]}"] += 1
        best = lambda table: {k: c.most_common(1)[0][0] for k, c in table.items()}
        return cls(best(uni), best(bi))

    def extended(self, texts: Iterable[str]) -> DiacriticRestorer:
        """This restorer, also knowing the words and word pairs of `texts` it does not know (its own forms win)."""
        extra = DiacriticRestorer.from_texts(texts)
        return DiacriticRestorer({**extra.unigrams, **self.unigrams}, {**extra.bigrams, **self.bigrams})

    def restore(self, text: str) -> str:
        """Return `text` with each word (pair) replaced by its most frequent accented form."""
        text = nfc(text)
        spans = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
        out: list[str] = []
        last = 0
        i = 0
        while i < len(spans):
            start, end, f = spans[i]
            out.append(text[last:start])
            if i + 1 < len(spans) and f"{f} {spans[i + 1][2]}" in self.bigrams:
                first, second = self.bigrams[f"{f} {spans[i + 1][2]}"].split(" ")
                nxt_start, nxt_end, _ = spans[i + 1]
                out.append(_like(text[start:end], first) + text[end:nxt_start] + _like(text[nxt_start:nxt_end], second))
                last = nxt_end
                i += 2
                continue
            out.append(_like(text[start:end], self.unigrams.get(f, text[start:end].lower())))
            last = end
            i += 1
        out.append(text[last:])
        return "".join(out)


def _like(original: str, replacement: str) -> str:
    """Keep the user's capitalisation of the first letter."""
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
