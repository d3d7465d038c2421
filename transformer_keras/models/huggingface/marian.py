"""Marian / opus-mt (`model_type` "marian") -> `Transformer`.

The paper's post-LN encoder-decoder: sinusoidal positions in Marian's layout
(all sines, then all cosines: `position="sinusoidal_concatenated"`),
embeddings scaled by `sqrt(D)`, the decoder's embedding tied to the output
projection plus `final_logits_bias`, SiLU ("swish") in opus-mt's
feed-forward layers, SentencePiece pieces numbered by `vocab.json`. The
decoder starts from the padding id (`decoder_start_token_id`), which the
translator attends to like any start token.

Opus-mt shares one embedding table between the encoder, the decoder and the
output; here each backbone has its own table, both loaded with the same
weights, so a fine-tuned model may let them part.

Legend: V vocabulary, D width, N heads, F inner width.
"""

from transformer_keras.models.backbone import Backbone
from transformer_keras.models.huggingface.checkpoint import (
    WeightCopier,
    activation,
    backbone_variables,
    copy_linear_attention,
    copy_linear_feedforward,
    linear_kernel,
    read_model_config,
    read_weights,
)


def marian_backbone_arguments(config):
    """A Marian `config.json` -> `{"encoder": ..., "decoder": ...}` `Backbone` arguments."""
    if config.get("normalize_before") or config.get("add_final_layer_norm"):
        raise ValueError(
            "Only Marian's post-LN layers are supported. Received: "
            f"normalize_before={config.get('normalize_before')!r}"
        )
    shared = dict(
        hidden_dim=config["d_model"],
        max_sequence_length=config.get("max_position_embeddings", 512),
        position="sinusoidal_concatenated",
        pad_id=config["pad_token_id"],
        activation=activation("activation_function", config.get("activation_function", "gelu")),
        dropout=config.get("dropout", 0.1),
        attention_dropout=config.get("attention_dropout", 0.0),
        normalize_first=False,
        layer_norm_epsilon=1e-5,
        use_bias=True,
        scale_embeddings=bool(config.get("scale_embedding", False)),
    )
    encoder = dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["encoder_layers"],
        num_heads=config["encoder_attention_heads"],
        intermediate_dim=config["encoder_ffn_dim"],
        stack="encoder",
        **shared,
    )
    decoder = dict(
        vocabulary_size=config.get("decoder_vocab_size") or config["vocab_size"],
        num_layers=config["decoder_layers"],
        num_heads=config["decoder_attention_heads"],
        intermediate_dim=config["decoder_ffn_dim"],
        stack="decoder",
        cross_attention=True,
        **shared,
    )
    return {"encoder": encoder, "decoder": decoder}


def load_marian(path, dtype=None):
    """A `Transformer` with a Marian (opus-mt) checkpoint's weights and tokenizers.

    Args:
        path: a checkpoint folder or an `hf://` name (e.g.
            `hf://Helsinki-NLP/opus-mt-de-en`).
        dtype: the dtype policy (`"float32"` when None).

    Returns:
        A built `Transformer` whose `translate` takes and returns text.
    """
    from transformer_keras.models.seq2seq import Transformer
    from transformer_keras.text import load_huggingface_tokenizer

    folder, config = read_model_config(path, ("marian",))
    arguments = marian_backbone_arguments(config)
    tied = config.get("tie_word_embeddings", True)
    model = Transformer(
        Backbone(**arguments["encoder"], dtype=dtype, name="encoder"),
        Backbone(**arguments["decoder"], dtype=dtype, name="decoder"),
        start_id=config.get("decoder_start_token_id", config["pad_token_id"]),
        end_id=config["eos_token_id"],
        tie_output_embedding=tied,
        output_bias=tied,
        source_tokenizer=load_huggingface_tokenizer(folder, side="source"),
        target_tokenizer=load_huggingface_tokenizer(folder, side="target"),
        dtype=dtype,
    )
    model.build()
    copier = WeightCopier(read_weights(folder), folder)
    copy_marian_weights(model, copier)
    return model


def copy_marian_weights(model, copier):
    """Marian's tensors into the translator (`model.` prefix or not)."""

    def copier_for(backbone):
        variables = backbone_variables(backbone)

        def copy(target, *names, transform=None):
            candidates = [prefixed for name in names for prefixed in (f"model.{name}", name)]
            source, array = copier.tensor(*candidates)
            copier.copy(variables[target], source, array, transform)

        return copy

    for side, backbone in (("encoder", model.encoder), ("decoder", model.decoder)):
        copy = copier_for(backbone)
        # (V, D): the side's own table when the checkpoint has one, else the shared one.
        copy(
            "embedding/token_embedding/embeddings",
            f"{side}.embed_tokens.weight",
            "shared.weight",
        )
        blocks = {"self_attention_block": "self_attn"}
        if side == "decoder":
            blocks["cross_attention_block"] = "encoder_attn"
        for index in range(backbone.num_layers):
            ours, theirs = f"{side}/layer_{index}/", f"{side}.layers.{index}."
            for block, name in blocks.items():
                source = f"{theirs}{name}."
                copy_linear_attention(
                    copy,
                    f"{ours}{block}/attention/",
                    {
                        "query": source + "q_proj.",
                        "key": source + "k_proj.",
                        "value": source + "v_proj.",
                        "attention_output": source + "out_proj.",
                    },
                    backbone.num_heads,
                )
                copy(f"{ours}{block}/norm/gamma", f"{theirs}{name}_layer_norm.weight")
                copy(f"{ours}{block}/norm/beta", f"{theirs}{name}_layer_norm.bias")
            feedforward = ours + "feedforward_block/"
            copy_linear_feedforward(copy, feedforward, theirs + "fc1.", theirs + "fc2.")
            copy(feedforward + "norm/gamma", theirs + "final_layer_norm.weight")
            copy(feedforward + "norm/beta", theirs + "final_layer_norm.bias")
    _, bias = copier.tensor("final_logits_bias", "model.final_logits_bias")  # (1, V)
    if model.output_projection is None:
        copier.copy(model.logits_bias, "final_logits_bias", bias[0])
    else:
        _, weight = copier.tensor("lm_head.weight")  # (V, D)
        copier.copy(model.output_projection.kernel, "lm_head.weight", weight, linear_kernel)
        copier.copy(model.output_projection.bias, "final_logits_bias", bias[0])
