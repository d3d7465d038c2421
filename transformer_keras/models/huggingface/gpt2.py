"""GPT-2 (`model_type` "gpt2") -> `TransformerLM`.

Pre-LN decoder, learned positions, GELU's tanh approximation, tied embeddings
not scaled, byte-level BPE. Its `<|endoftext|>` is the tokenizer's start, end
and padding id; as padding is derived from the ids here, an `<|endoftext|>`
inside a text is not attended to (Hugging Face attends to it unless its
attention mask says not).

Legend: V vocabulary, P positions, D width, N heads, H head width, F inner width.
"""

from transformer_keras.models.backbone import Backbone
from transformer_keras.models.huggingface.checkpoint import (
    WeightCopier,
    activation,
    backbone_variables,
    read_model_config,
    read_weights,
)


def gpt2_backbone_arguments(config):
    """A GPT-2 `config.json` -> `Backbone` arguments (a decoder)."""
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
        activation=activation(
            "activation_function", config.get("activation_function", "gelu_new")
        ),
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

    folder, config = read_model_config(path, ("gpt2",))
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

    def copy(target, name, transform=None):
        source, array = copier.tensor(f"transformer.{name}", name)
        copier.copy(variables[target], source, array, transform)

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
