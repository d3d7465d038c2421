"""Hugging Face checkpoints (a local folder, or `hf://name` when online) into our models.

A checkpoint folder holds `config.json`, the weights (`model.safetensors`, or
`pytorch_model.bin`, which needs PyTorch) and the tokenizer files. The loader
reads the config into a `Backbone`'s arguments, builds the task with the
matching in-graph tokenizer (`text.load_huggingface_tokenizer`), and copies
every tensor into its variable, checking its shape; the first tensor that
does not fit, or that is missing, is named in the error.

GPT-2 (`model_type` "gpt2") -> `TransformerLM`: pre-LN decoder, learned
positions, GELU's tanh approximation, tied embeddings not scaled, byte-level
BPE. Its `<|endoftext|>` is the tokenizer's start, end and padding id; as
padding is derived from the ids here, an `<|endoftext|>` inside a text is not
attended to (Hugging Face attends to it unless its attention mask says not).

Legend: V vocabulary, P positions, D width, N heads, H head width, F inner width.
"""

import json
from pathlib import Path

import numpy as np

from transformer_keras.models.backbone import Backbone

HUB_PREFIX = "hf://"
GPT2_ACTIVATIONS = {
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "gelu": "gelu",
    "relu": "relu",
}


def checkpoint_folder(path):
    """The local folder of `path`: a folder, or `hf://owner/name` downloaded first.

    Raises:
        ValueError: `path` is not a folder, or names the Hub without
            `huggingface_hub` installed (or without a network).
    """
    path = str(path)
    if path.startswith(HUB_PREFIX):
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise ValueError(
                "An `hf://` name downloads with `huggingface_hub` (`pip install "
                f"huggingface_hub`), or pass a local folder. Received: path={path!r}"
            ) from None
        try:
            return Path(snapshot_download(path[len(HUB_PREFIX) :]))
        except Exception as error:  # offline, unknown name, no access
            raise ValueError(
                f"Could not download the checkpoint ({type(error).__name__}: {error}). "
                f"Received: path={path!r}"
            ) from error
    folder = Path(path)
    if not (folder / "config.json").is_file():
        raise ValueError(
            "`path` must be a Hugging Face checkpoint folder (with a config.json) or "
            f"an `hf://` name. Received: path={path!r}"
        )
    return folder


def read_config(folder):
    return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))


def read_weights(folder):
    """`{tensor name: float32 NumPy array}` of the folder's checkpoint."""
    folder = Path(folder)
    if (folder / "model.safetensors").is_file():
        from safetensors.numpy import load_file

        tensors = load_file(folder / "model.safetensors")
    elif (folder / "pytorch_model.bin").is_file():
        try:
            import torch
        except ImportError:
            raise ValueError(
                "pytorch_model.bin needs PyTorch to read; install torch, or save the "
                f"checkpoint as model.safetensors. Received: path={str(folder)!r}"
            ) from None
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
        tensors = {name: tensor.float().numpy() for name, tensor in state.items()}
    else:
        raise ValueError(
            "The folder has no model.safetensors nor pytorch_model.bin. "
            f"Received: path={str(folder)!r}"
        )
    return {name: np.asarray(tensor, dtype=np.float32) for name, tensor in tensors.items()}


class WeightCopier:
    """Copies checkpoint tensors into variables, naming the first that does not fit."""

    def __init__(self, tensors, path):
        self.tensors = tensors
        self.path = path

    def tensor(self, *names):
        """The first of `names` the checkpoint holds (prefixed names differ by class)."""
        for name in names:
            if name in self.tensors:
                return name, self.tensors[name]
        raise ValueError(
            f"The checkpoint has no tensor {names[0]!r}. Received: path={str(self.path)!r}"
        )

    def copy(self, variable, array, name):
        if tuple(array.shape) != tuple(variable.shape):
            raise ValueError(
                f"The checkpoint's tensor {name!r} of shape {tuple(array.shape)} does not "
                f"fit {variable.path} of shape {tuple(variable.shape)}. "
                f"Received: path={str(self.path)!r}"
            )
        variable.assign(array)


# ---------------------------------------------------------------------- GPT-2
def gpt2_backbone_arguments(config):
    """A GPT-2 `config.json` -> `Backbone` arguments (a decoder)."""
    activation = config.get("activation_function", "gelu_new")
    if activation not in GPT2_ACTIVATIONS:
        raise ValueError(
            f"Unsupported GPT-2 activation; known: {sorted(GPT2_ACTIVATIONS)}. "
            f"Received: activation_function={activation!r}"
        )
    hidden_dim = config["n_embd"]
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["n_layer"],
        hidden_dim=hidden_dim,
        num_heads=config["n_head"],
        intermediate_dim=config.get("n_inner") or 4 * hidden_dim,
        max_sequence_length=config["n_positions"],
        stack="decoder",
        position="learned",
        activation=GPT2_ACTIVATIONS[activation],
        normalize_first=True,
        layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-5),
        use_bias=True,
        scale_embeddings=False,
    )


def load_gpt2(path, dtype=None):
    """A `TransformerLM` with a GPT-2 checkpoint's weights and tokenizer.

    Args:
        path: a checkpoint folder or an `hf://` name (e.g. `hf://gpt2`).
        dtype: the dtype policy (`"float32"` when None).

    Returns:
        A built `TransformerLM` whose `generate` takes and returns text.
    """
    from transformer_keras.models.language_model import TransformerLM
    from transformer_keras.text import load_huggingface_tokenizer

    folder = checkpoint_folder(path)
    config = read_config(folder)
    if config.get("model_type") != "gpt2":
        raise ValueError(
            f"Not a GPT-2 checkpoint. Received: model_type={config.get('model_type')!r}"
        )
    tokenizer = load_huggingface_tokenizer(folder)
    arguments = gpt2_backbone_arguments(config)
    backbone = Backbone(**arguments, pad_id=int(tokenizer.pad_id), dtype=dtype, name="backbone")
    model = TransformerLM(backbone, tie_embeddings=True, tokenizer=tokenizer, dtype=dtype)
    model.build()
    copy_gpt2_weights(model.backbone, WeightCopier(read_weights(folder), folder))
    return model


def copy_gpt2_weights(backbone, copier):
    """GPT-2's tensors into a decoder `Backbone` (`transformer.` prefix or not)."""
    variables = backbone_variables(backbone)
    d, n = backbone.hidden_dim, backbone.num_heads
    h = d // n

    def copy(target, name, transform=lambda array: array):
        source, array = copier.tensor(f"transformer.{name}", name)
        copier.copy(variables[target], transform(array), source)

    copy("embedding/token_embedding/embeddings", "wte.weight")  # (V, D)
    copy("embedding/position_embedding/embeddings", "wpe.weight")  # (P, D)
    for index in range(backbone.num_layers):
        ours, theirs = f"decoder/layer_{index}/", f"h.{index}."
        attention = ours + "self_attention_block/attention/"
        copy(ours + "self_attention_block/norm/gamma", theirs + "ln_1.weight")
        copy(ours + "self_attention_block/norm/beta", theirs + "ln_1.bias")
        # Conv1D computes x @ W, W (D, 3D) = [query | key | value], each (D, N * H).
        for part, projection in enumerate(("query", "key", "value")):
            columns = slice(part * d, (part + 1) * d)
            copy(
                attention + projection + "/kernel",
                theirs + "attn.c_attn.weight",
                lambda w, columns=columns: w[:, columns].reshape(d, n, h),  # (D, N, H)
            )
            copy(
                attention + projection + "/bias",
                theirs + "attn.c_attn.bias",
                lambda b, columns=columns: b[columns].reshape(n, h),  # (N, H)
            )
        copy(
            attention + "attention_output/kernel",
            theirs + "attn.c_proj.weight",
            lambda w: w.reshape(n, h, d),  # (D, D) -> (N, H, D)
        )
        copy(attention + "attention_output/bias", theirs + "attn.c_proj.bias")
        feedforward = ours + "feedforward_block/"
        copy(feedforward + "norm/gamma", theirs + "ln_2.weight")
        copy(feedforward + "norm/beta", theirs + "ln_2.bias")
        copy(feedforward + "feedforward/inner/kernel", theirs + "mlp.c_fc.weight")  # (D, F)
        copy(feedforward + "feedforward/inner/bias", theirs + "mlp.c_fc.bias")
        copy(feedforward + "feedforward/output/kernel", theirs + "mlp.c_proj.weight")  # (F, D)
        copy(feedforward + "feedforward/output/bias", theirs + "mlp.c_proj.bias")
    copy("decoder/final_norm/gamma", "ln_f.weight")
    copy("decoder/final_norm/beta", "ln_f.bias")


def backbone_variables(backbone):
    """`{path inside the backbone: variable}`, e.g. `"decoder/final_norm/gamma"`."""
    marker = f"{backbone.name}/"
    return {variable.path.split(marker, 1)[1]: variable for variable in backbone.weights}
