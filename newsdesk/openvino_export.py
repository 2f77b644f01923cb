"""Convert a packaged sentence-transformers model to an OpenVINO model, once, and check it.

The conversion reads only the local model files (torch traces the model; nothing is
downloaded) and writes into the data directory's model cache, under a name derived from the
weights' hash and this recipe's version, so changed weights or a changed recipe convert again.
A conversion is kept only if its vectors agree with torch's fp32 `encode` on probe sentences;
it is written to a temporary folder and renamed into place, so a crash or a concurrent
process never leaves a half-written model that looks finished."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

# Bump when the exported graph changes (inputs, pooling, normalisation): old exports are
# then ignored and converted again.
RECIPE_VERSION = 1
MODEL_XML = "model.xml"
MANIFEST = "manifest.json"
# Below this cosine to torch fp32 on the probes, the conversion is refused.
MIN_PROBE_COSINE = 0.99
PROBES = (
    "Gary Locke will be confirmed as Kilmarnock's permanent manager on Friday.",
    "The central bank raised interest rates by a quarter of a percentage point on Wednesday, "
    "its third increase this year, citing inflation that remains well above its 2% target.",
    "Flood warnings",
    "Rescue teams searched through the night for survivors after the magnitude 6.4 earthquake "
    "struck the coastal province, toppling buildings and cutting power to tens of thousands of "
    "homes. Officials said at least 37 people had died and more than 200 were injured, and "
    "warned that the toll was likely to rise as crews reached remote villages cut off by "
    "landslides.",
    "¿Dónde está la estación? 東京 2026 — naïve café, résumé!",
)


class ExportError(RuntimeError):
    """The model cannot be converted, or its conversion disagrees with torch."""


def weights_fingerprint(model_path: Path) -> str:
    """Hash of the files that decide the vectors (weights, config, pooling, tokenizer)."""
    digest = hashlib.sha256(f"recipe {RECIPE_VERSION}\n".encode())
    names = sorted(
        p
        for p in model_path.rglob("*")
        if p.is_file() and (p.suffix in {".safetensors", ".bin", ".json"} or p.name == "vocab.txt")
    )
    for path in names:
        digest.update(str(path.relative_to(model_path)).encode() + b"\n")
        with path.open("rb") as data:
            for block in iter(lambda: data.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def check_supported(model_path: Path) -> None:
    """The exported graph hard-codes Transformer → mean pooling → L2 normalisation."""
    try:
        modules = json.loads((model_path / "modules.json").read_text())
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((model_path / "1_Pooling" / "config.json").read_text())
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise ExportError(f"{model_path}: not a sentence-transformers model ({exc})") from None
    if kinds != ["Transformer", "Pooling", "Normalize"] or not pooling.get(
        "pooling_mode_mean_tokens"
    ):
        raise ExportError(
            f"{model_path}: only Transformer + mean pooling + Normalize models convert "
            f"(found {kinds}); use NEWSDESK_EMBEDDING_BACKEND=torch"
        )


def cached_export(model_path: Path, cache_dir: Path) -> Path:
    """The folder holding the verified OpenVINO model for ``model_path``, converting if needed."""
    check_supported(model_path)
    target = cache_dir / f"{model_path.name}-ov-{weights_fingerprint(model_path)}"
    if (target / MANIFEST).is_file() and (target / MODEL_XML).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir))
    try:
        manifest = convert(model_path, scratch)
        (scratch / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        try:
            scratch.rename(target)
        except OSError:
            # Another process finished the same conversion first: keep its copy.
            if not (target / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def convert(model_path: Path, out_dir: Path) -> dict[str, Any]:
    import openvino as ov
    import torch
    from sentence_transformers import SentenceTransformer

    # Eager attention traces into plain matmuls, which OpenVINO fuses into its own kernels.
    st = SentenceTransformer(
        str(model_path), device="cpu", model_kwargs={"attn_implementation": "eager"}
    )
    encoder = st[0].auto_model
    if not isinstance(encoder, torch.nn.Module):
        raise ExportError(f"{model_path}: the first module holds no torch encoder")
    module: torch.nn.Module = encoder.eval()

    class MeanPooledEncoder(torch.nn.Module):
        encoder: torch.nn.Module

        def __init__(self) -> None:
            super().__init__()
            self.encoder = module

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.encoder(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    example = torch.ones(2, 8, dtype=torch.long)
    # Tracing warns about every shape-dependent Python branch in transformers; the example's
    # branches are the general ones (dynamic batch and length, a mask given), checked below.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ov.convert_model(
            MeanPooledEncoder().eval(),
            example_input=(example, example),
            input=[
                ("input_ids", [-1, -1], ov.Type.i64),
                ("attention_mask", [-1, -1], ov.Type.i64),
            ],
        )
    # Full-precision weights on disk; the precision of inference is chosen when compiling.
    ov.save_model(model, str(out_dir / MODEL_XML), compress_to_fp16=False)
    reference = np.asarray(st.encode(list(PROBES), normalize_embeddings=True), dtype=np.float32)
    return {
        "source": str(model_path),
        "recipe": RECIPE_VERSION,
        "openvino": ov.__version__,
        "torch": torch.__version__,
        "probe_reference": reference.tolist(),
    }


def verify(
    encode: Callable[[Sequence[str]], np.ndarray], manifest: dict[str, Any], label: str
) -> float:
    """Lowest cosine between ``encode`` and torch fp32 on the probes; raises below the bar."""
    reference = np.asarray(manifest["probe_reference"], dtype=np.float32)
    cosines = np.sum(encode(list(PROBES)) * reference, axis=1)
    lowest = float(cosines.min())
    if not lowest >= MIN_PROBE_COSINE:
        raise ExportError(
            f"{label}: vectors disagree with torch fp32 (lowest probe cosine {lowest:.4f} < "
            f"{MIN_PROBE_COSINE}); use NEWSDESK_EMBEDDING_BACKEND=torch"
        )
    return lowest
