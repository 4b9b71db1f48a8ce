"""The bundled model on ONNX Runtime: the same fp32 weights give the same vectors as PyTorch.

Why: on this kind of machine a short query costs about half the CPU it costs in PyTorch eager mode
(13 against 27 ms on one thread), and a pass releases the GIL from start to end, so the bot's event
loop and database threads are not kept waiting behind the Python of every layer. The graph is written
once, next to the converted model (`export`), by whatever first converts it (`python -m bot setup`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
ONNX_FILE = Path("onnx") / "model.onnx"
OPSET = 17


def ensure_exported(folder: Path) -> bool:
    """Write `folder / ONNX_FILE` from the converted model in `folder` unless it is there; False if it cannot be.

    The file appears whole or not at all (written aside, then renamed), so replicas starting together on a new
    data folder at worst both export and one rename wins.
    """
    target = folder / ONNX_FILE
    if target.is_file():
        return True
    try:
        import onnx  # noqa: F401 - the exporter needs it; without it the model runs on PyTorch
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        log.warning("embedding: %s is not installed; the model runs on PyTorch", exc.name)
        return False
    from transformers import BertModel

    log.info("embedding: writing the ONNX graph of %s (one time)", folder.name)
    bert = BertModel.from_pretrained(str(folder), local_files_only=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f".{target.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        _export(bert, work)
        os.replace(work, target)
    finally:
        work.unlink(missing_ok=True)
    return True


def _export(bert, path: Path) -> None:
    """`bert` (a transformers BertModel) as an ONNX graph: token ids and mask in, token vectors out."""
    import torch

    class _Tokens(torch.nn.Module):
        def __init__(self, model) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[0, 10, 11, 2], [0, 12, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns about its own deprecation and about traced Python conditions
        # (sequence-length checks that hold for every shape here); neither changes the graph's numbers.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Tokens(bert.eval()),
            (ids, mask),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["tokens"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "tokens": axes},
            opset_version=OPSET,
            dynamo=False,
        )


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxEncoder:
    """Mean-pooled, normalised sentence vectors from a converted folder holding `ONNX_FILE`.

    The same recipe as the folder's sentence-transformers modules (tokenise with the prompt, mean over the
    tokens, L2 norm); `tests/test_embedding.py` holds the two to the same vectors.
    """

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.folder = folder
        config = json.loads((folder / "config.json").read_text())
        tok_config = json.loads((folder / "tokenizer_config.json").read_text())
        st_config = json.loads((folder / "config_sentence_transformers.json").read_text())
        self.dim = int(config["hidden_size"])
        self.prompts: dict[str, str] = st_config.get("prompts") or {}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(int(tok_config.get("model_max_length") or 512))
        pad_id = int(config.get("pad_token_id") or 0)
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token=self.tokenizer.id_to_token(pad_id))
        self._threads = _cores()
        self._session = None
        self._lock = threading.Lock()

    @staticmethod
    def available(folder: Path) -> bool:
        if not (folder / ONNX_FILE).is_file():
            return False
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            return False
        return True

    def set_threads(self, threads: int | None) -> None:
        """Threads for one pass (None: every core). A session already made is made again now, not at the next
        pass: a server switches once, at start, and its first user must not wait seconds for the model."""
        threads = threads or _cores()
        with self._lock:
            if threads == self._threads:
                return
            self._threads = threads
            rebuild, self._session = self._session is not None, None
        if rebuild:
            self.session()

    def session(self):
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
                # Idle pool threads would otherwise spin for a while after every pass, taking the CPU that
                # the event loop and the other pass need.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.log_severity_level = 3
                self._session = ort.InferenceSession(
                    str(self.folder / ONNX_FILE), options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def encode(self, texts: Sequence[str], prompt: str | None = None, batch_size: int = 32) -> np.ndarray:
        """Vectors of `texts` with the named prompt ("query", "passage") in front, in the order given."""
        prefix = self.prompts.get(prompt, "") if prompt else ""
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad least
        session = self.session()
        for start in range(0, len(order), batch_size):
            part = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([prefix + texts[i] for i in part])
            ids = np.array([e.ids for e in encodings], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
            tokens = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
            weights = mask[..., None].astype(np.float32)
            pooled = (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            vectors[part] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return vectors
