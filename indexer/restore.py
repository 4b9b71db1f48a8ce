"""Put diacritics back on a query typed without them, using the knowledge base's own words.

E5 embeds "thoi han bao ho nhan hieu" poorly; "thời hạn bảo hộ nhãn hiệu" well. In a closed
domain the corpus tells which accented form a folded word or word pair almost always stands for.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from indexer.textnorm import fold, nfc

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TEXTS = 20000  # enough vocabulary for a domain; bounds memory on very large indexes
# A word no neighbour settles keeps the form it takes this often on its own, else stays as typed.
SURE_SHARE = 0.8


class DiacriticRestorer:
    """Per folded word, how often each accented form occurs; per folded word pair, each accented pair.

    A word is restored from its neighbours as well as itself (the best sequence of forms, not word by word
    from the left): "lam thu tuc" is "làm thủ tục" because "thủ tục" is a pair the documents use, even though
    "làm thử" is one too. A word whose form neither neighbour settles and the word itself does not clearly
    decide is left as typed: "dung" stands for "dụng" in "sử dụng" but for "đúng" in "siêu nhỏ dung ko",
    and a wrong accent misleads the embedding more than a missing one.
    """

    def __init__(self, unigrams: dict[str, Counter], bigrams: dict[str, Counter]) -> None:
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
        return cls(dict(uni), dict(bi))

    def extended(self, texts: Iterable[str]) -> DiacriticRestorer:
        """This restorer, also knowing the words and word pairs of `texts` it does not know (its own forms win)."""
        extra = DiacriticRestorer.from_texts(texts)
        return DiacriticRestorer({**extra.unigrams, **self.unigrams}, {**extra.bigrams, **self.bigrams})

    def restore(self, text: str) -> str:
        """Return `text` with each word given the accented form the documents use for it in that context."""
        text = nfc(text)
        spans = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
        forms = self._decode([f for _, _, f in spans])
        out: list[str] = []
        last = 0
        for (start, end, _), form in zip(spans, forms):
            out.append(text[last:start])
            out.append(_like(text[start:end], form) if form is not None else text[start:end])
            last = end
        out.append(text[last:])
        return "".join(out)

    def _decode(self, folded: list[str]) -> list[str | None]:
        """The most likely form of each word (None: leave it as typed), by dynamic programming over the words.

        Where the documents have a word pair, the share of each accented pair among its forms scores it; a word
        with no known pair on either side scores the share of its own forms.
        """
        if not folded:
            return []
        # left[i]: the accented forms of the pair (word i-1, word i), None when the documents do not have it.
        left = [self.bigrams.get(f"{folded[i - 1]} {f}") if i else None for i, f in enumerate(folded)]
        right = left[1:] + [None]
        best: list[dict[str, tuple[float, str | None]]] = []  # per word: form -> (best score so far, previous form)
        for i, f in enumerate(folded):
            row: dict[str, tuple[float, str | None]] = {}
            pairs = left[i]
            total = sum(pairs.values()) if pairs else 0
            for form, share in self._options(f, pairs, right[i]).items():
                own = 0.0 if pairs or right[i] else math.log(share)
                if not i or not best[-1]:
                    row[form] = (own, None)
                    continue
                row[form] = max(
                    (score + own + (math.log((pairs[f"{prev} {form}"] + 0.1) / (total + 0.1)) if total else 0.0), prev)
                    for prev, (score, _) in best[-1].items()
                )
            best.append(row)
        chosen: list[str | None] = [None] * len(folded)
        form = None
        for i in range(len(folded) - 1, -1, -1):
            if form is None:  # the last word, or an unknown word broke the chain: the best form of this word
                form = max(best[i], key=lambda f: best[i][f][0]) if best[i] else None
                if form is None:
                    continue
            chosen[i] = form
            form = best[i][form][1]
        return [
            c if c is None or self._settled(folded[i], c, left[i], right[i]) else None for i, c in enumerate(chosen)
        ]

    def _options(self, word: str, left: Counter | None, right: Counter | None) -> dict[str, float]:
        """The forms a word may take, with their share among its forms (a form only a pair has: a small one)."""
        counts = Counter(self.unigrams.get(word, {}))
        counts.update({pair.split(" ")[1]: 0 for pair in left or ()})
        counts.update({pair.split(" ")[0]: 0 for pair in right or ()})
        total = sum(counts.values()) + len(counts)
        return {form: (n + 1) / total for form, n in counts.items()}

    def _settled(self, word: str, form: str, left: Counter | None, right: Counter | None) -> bool:
        """A neighbour's pair vouches for the form, or the word alone nearly always takes it."""
        forms = self.unigrams.get(word, ())
        if len(forms) <= 1 and (not forms or form in forms):
            return True
        if any(pair.split(" ")[1] == form for pair in left or ()) or any(
            pair.split(" ")[0] == form for pair in right or ()
        ):
            return True
        return forms[form] / sum(forms.values()) >= SURE_SHARE if form in forms else False


def _like(original: str, replacement: str) -> str:
    """Keep the user's capitalisation of the first letter."""
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
