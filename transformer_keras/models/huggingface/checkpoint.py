"""Reading a Hugging Face checkpoint folder, and copying its tensors into variables.

A checkpoint folder holds `config.json`, the weights (`model.safetensors`, or
`pytorch_model.bin`, which needs PyTorch) and the tokenizer files; `hf://name`
is downloaded into `huggingface_hub`'s cache first (online only).
"""

import json
from pathlib import Path

import numpy as np

HUB_PREFIX = "hf://"
# Hugging Face's activation names (`ACT2FN`) -> the feed-forward's.
ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "gelu_fast": "gelu_tanh",
    "relu": "relu",
    "silu": "silu",
    "swish": "silu",
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

    def copy(self, variable, name, array, transform=None):
        """Assigns `transform(array)` (our layout of the tensor `name`) to `variable`."""
        try:
            value = array if transform is None else transform(array)
        except ValueError:  # a reshape that the tensor's size does not allow
            value = None
        if value is None or tuple(value.shape) != tuple(variable.shape):
            raise ValueError(
                f"The checkpoint's tensor {name!r} of shape {tuple(array.shape)} does not "
                f"fit {variable.path} of shape {tuple(variable.shape)}. "
                f"Received: path={str(self.path)!r}"
            )
        variable.assign(value)


def backbone_variables(backbone):
    """`{path inside the backbone: variable}`, e.g. `"decoder/final_norm/gamma"`."""
    marker = f"{backbone.name}/"
    return {variable.path.split(marker, 1)[1]: variable for variable in backbone.weights}


def read_model_config(path, model_types):
    """`(folder, config)` of a checkpoint whose `model_type` is one of `model_types`."""
    folder = checkpoint_folder(path)
    config = read_config(folder)
    if config.get("model_type") not in model_types:
        raise ValueError(
            f"Not a {' or '.join(model_types)} checkpoint. "
            f"Received: model_type={config.get('model_type')!r}"
        )
    return folder, config


def activation(key, name):
    """Our feed-forward activation for Hugging Face's `name` (from the config's `key`)."""
    if name not in ACTIVATIONS:
        raise ValueError(
            f"Unsupported activation; known: {sorted(ACTIVATIONS)}. Received: {key}={name!r}"
        )
    return ACTIVATIONS[name]


# PyTorch's `nn.Linear` keeps its weight as (out, in); Keras kernels are (in, out).
def linear_kernel(weight):
    """`(out, in)` -> `(in, out)`."""
    return weight.T


def heads_in_kernel(weight, num_heads):
    """A query, key or value projection: `(N * H, D)` -> `(D, N, H)`."""
    return weight.T.reshape(weight.shape[1], num_heads, -1)


def heads_in_bias(bias, num_heads):
    """`(N * H,)` -> `(N, H)`."""
    return bias.reshape(num_heads, -1)


def heads_out_kernel(weight, num_heads):
    """The attention output projection: `(D, N * H)` -> `(N, H, D)`."""
    return weight.T.reshape(num_heads, -1, weight.shape[0])


def copy_linear_attention(copy, attention, sources, num_heads):
    """PyTorch `nn.Linear` attention projections into our `MultiHeadAttention`.

    Args:
        copy: `copy(our path, their name, transform=...)` of the loader.
        attention: our attention layer's path, e.g. `"encoder/layer_0/.../attention/"`.
        sources: `{"query" | "key" | "value" | "attention_output": their name
            prefix}`; `"weight"` and `"bias"` follow each prefix.
        num_heads: `N`.
    """
    for projection in ("query", "key", "value"):
        source = sources[projection]
        copy(
            attention + projection + "/kernel",
            source + "weight",
            transform=lambda w: heads_in_kernel(w, num_heads),  # (D, N, H)
        )
        copy(
            attention + projection + "/bias",
            source + "bias",
            transform=lambda b: heads_in_bias(b, num_heads),  # (N, H)
        )
    source = sources["attention_output"]
    copy(
        attention + "attention_output/kernel",
        source + "weight",
        transform=lambda w: heads_out_kernel(w, num_heads),  # (N, H, D)
    )
    copy(attention + "attention_output/bias", source + "bias")


def copy_linear_feedforward(copy, feedforward, inner, output):
    """PyTorch `nn.Linear` feed-forward layers (`inner`, `output` name prefixes) into ours."""
    copy(feedforward + "feedforward/inner/kernel", inner + "weight", transform=linear_kernel)
    copy(feedforward + "feedforward/inner/bias", inner + "bias")
    copy(feedforward + "feedforward/output/kernel", output + "weight", transform=linear_kernel)
    copy(feedforward + "feedforward/output/bias", output + "bias")
