"""all-MiniLM-L6-v2 in plain NumPy, for the serving process.

Why not sentence-transformers here: importing it (torch + transformers) took 7-12 s of a 16 s cold
start, and a server embeds one short question at a time, which a 6-layer, 384-wide BERT does in
~13 ms on 2 cores with NumPy alone. This module runs the same weights (``model.safetensors``), the
same WordPiece tokenizer (``tokenizer.json`` via the Rust ``tokenizers``), the same 256-token
truncation, mean pooling and L2 normalisation that the model folder's sentence-transformers config
declares, so its vectors match the ones ingest wrote (``tests/integration/test_query_embeddings.py``
checks them against sentence-transformers: cosine > 0.9999). Ingest keeps sentence-transformers:
it embeds big batches, where torch is ~2.5x faster.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

Array = np.ndarray[Any, np.dtype[np.float32]]

# Abramowitz & Stegun 7.1.26: erf to 1.5e-7, below float32 resolution of GELU's outputs here.
_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_P = 0.3275911


def _gelu(x: Array) -> Array:
    """BERT's exact (erf) GELU, which ``hidden_act: gelu`` means (the tanh form drifts ~1e-3).

    erf(|z|) = 1 - poly(t) * exp(-z^2) with t = 1 / (1 + p|z|), so for x >= 0 GELU is
    0.5 x (2 - poly e^(-z^2)) and for x < 0 it is 0.5 x poly e^(-z^2). Computed in place: this is
    the widest tensor of the model and temporaries dominated its cost.
    """
    z = np.abs(x)
    z *= np.float32(1.0 / math.sqrt(2.0))
    t = z * np.float32(_P)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(_A[4])
    for coefficient in (_A[3], _A[2], _A[1], _A[0]):
        poly += np.float32(coefficient)
        poly *= t
    np.square(z, out=z)
    np.negative(z, out=z)
    np.exp(z, out=z)
    poly *= z  # = 1 - erf(|x| / sqrt 2)
    np.subtract(2.0, poly, out=poly, where=x >= 0)
    poly *= x
    poly *= np.float32(0.5)
    return poly


def _layer_norm(x: Array, weight: Array, bias: Array, eps: float) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(var + eps) * weight + bias).astype(np.float32)


@dataclass(frozen=True)
class _Block:
    """One transformer layer's weights, pre-transposed to (in, out) for ``x @ w``."""

    qkv_w: Array  # query, key and value fused: one matmul instead of three
    qkv_b: Array
    out_w: Array
    out_b: Array
    ln1_w: Array
    ln1_b: Array
    up_w: Array
    up_b: Array
    down_w: Array
    down_b: Array
    ln2_w: Array
    ln2_b: Array


class MiniLMEncoder:
    """A BERT encoder + mean pooling + normalisation read from a sentence-transformers folder."""

    def __init__(self, folder: str | Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise ValueError(f"{folder} is not a BERT model with GELU; use sentence-transformers")
        self._check_pooling(folder)
        st_config = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(st_config.get("max_seq_length", 256))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.dimension = int(config["hidden_size"])

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # the file pads to 128; we pad per batch to its longest text
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)

        w = load_file(str(folder / "model.safetensors"))
        w = {k.removeprefix("bert."): v for k, v in w.items()}
        self.word = w["embeddings.word_embeddings.weight"]
        self.position = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"]
        self.emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.blocks: list[_Block] = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            attention = [w[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]
            biases = [w[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]
            self.blocks.append(
                _Block(
                    qkv_w=np.concatenate(attention).T.copy(),
                    qkv_b=np.concatenate(biases),
                    out_w=w[p + "attention.output.dense.weight"].T.copy(),
                    out_b=w[p + "attention.output.dense.bias"],
                    ln1_w=w[p + "attention.output.LayerNorm.weight"],
                    ln1_b=w[p + "attention.output.LayerNorm.bias"],
                    up_w=w[p + "intermediate.dense.weight"].T.copy(),
                    up_b=w[p + "intermediate.dense.bias"],
                    down_w=w[p + "output.dense.weight"].T.copy(),
                    down_b=w[p + "output.dense.bias"],
                    ln2_w=w[p + "output.LayerNorm.weight"],
                    ln2_b=w[p + "output.LayerNorm.bias"],
                )
            )

    @staticmethod
    def _check_pooling(folder: Path) -> None:
        modules = json.loads((folder / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if kinds != ["Transformer", "Pooling", "Normalize"]:
            raise ValueError(f"{folder}: unsupported sentence-transformers modules {kinds}")
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text())
        if not pooling.get("pooling_mode_mean_tokens") or any(
            v
            for k, v in pooling.items()
            if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
        ):
            raise ValueError(f"{folder}: only mean pooling is supported")

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> Array:
        batch, length = ids.shape
        head_dim = self.dimension // self.heads
        x = self.word[ids] + self.position[:length] + self.token_type[0]
        x = _layer_norm(x, *self.emb_ln, self.eps)
        # Padded positions get -inf-like scores so no token attends to them.
        bias = ((1.0 - mask[:, None, None, :]) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / math.sqrt(head_dim))
        for b in self.blocks:
            qkv = x @ b.qkv_w + b.qkv_b
            qkv = qkv.reshape(batch, length, 3, self.heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, self.dimension)
            x = _layer_norm(context @ b.out_w + b.out_b + x, b.ln1_w, b.ln1_b, self.eps)
            hidden = _gelu(x @ b.up_w + b.up_b)
            x = _layer_norm(hidden @ b.down_w + b.down_b + x, b.ln2_w, b.ln2_b, self.eps)
        return x.astype(np.float32)

    def encode(self, texts: list[str], batch_size: int = 32) -> Array:
        """Unit-length embeddings, one row per text, in the order given."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Batches of similar length waste little on padding (what sentence-transformers does too).
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            encodings = self.tokenizer.encode_batch([texts[i] for i in idx])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.float32)
            for row, e in enumerate(encodings):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1.0
            hidden = self._forward(ids, mask)
            summed = (hidden * mask[:, :, None]).sum(axis=1)
            pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
            norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            out[idx] = pooled / norms
        return out


class MiniLMEmbeddings(Embeddings):
    """LangChain ``Embeddings`` over :class:`MiniLMEncoder` (no torch, no transformers)."""

    def __init__(self, folder: str | Path, batch_size: int = 32) -> None:
        self.encoder = MiniLMEncoder(folder)
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encoder.encode(list(texts), self.batch_size).tolist()  # type: ignore[no-any-return]

    def embed_query(self, text: str) -> list[float]:
        return self.encoder.encode([text])[0].tolist()  # type: ignore[no-any-return]
