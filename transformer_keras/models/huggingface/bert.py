"""BERT (`model_type` "bert") -> `TransformerClassifier`.

Post-LN encoder, learned positions, exact GELU, a layer norm on the embeddings,
the `[CLS]` state through BERT's pooler (dense, tanh) into the head, WordPiece
with `[CLS]` first and `[SEP]` last. The classifier reads one text at a time,
so every token has token type 0: that row of BERT's token-type table is added
to the position table (the same sum, one table fewer). A checkpoint of
`BertForSequenceClassification` with `num_classes` labels also gives the head
(and its label names); otherwise the head starts from scratch.

Legend: V vocabulary, P positions, D width, N heads, C classes.
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


def bert_backbone_arguments(config):
    """A BERT `config.json` -> `Backbone` arguments (an encoder)."""
    position_type = config.get("position_embedding_type", "absolute")
    if position_type != "absolute":
        raise ValueError(
            "Only BERT's learned absolute positions are supported. "
            f"Received: position_embedding_type={position_type!r}"
        )
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        hidden_dim=config["hidden_size"],
        num_heads=config["num_attention_heads"],
        intermediate_dim=config["intermediate_size"],
        max_sequence_length=config["max_position_embeddings"],
        stack="encoder",
        position="learned",
        pad_id=config.get("pad_token_id", 0),
        activation=activation("hidden_act", config.get("hidden_act", "gelu")),
        dropout=config.get("hidden_dropout_prob", 0.1),
        attention_dropout=config.get("attention_probs_dropout_prob", 0.1),
        normalize_first=False,
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
        use_bias=True,
        scale_embeddings=False,
        embedding_norm=True,
    )


def load_bert(
    path, num_classes, label_names=None, dtype=None, max_sequence_length=None, **overrides
):
    """A `TransformerClassifier` with a BERT checkpoint's encoder, pooler and tokenizer.

    Args:
        path: a checkpoint folder or an `hf://` name (e.g. `hf://bert-base-uncased`).
        num_classes: `C`.
        label_names: `C` names; default to the checkpoint's `id2label` when
            its head has `C` labels.
        dtype: the dtype policy (`"float32"` when None).
        max_sequence_length: read at most this many tokens (the first rows
            of BERT's position table; all of it when None).
        **overrides: further classifier arguments (`classifier_dropout`,
            `token_dropout`, ...).

    Returns:
        A built `TransformerClassifier` with `pooling="cls"`, BERT's pooler
        and `add_end_token=True`: `classify` takes text.
    """
    from transformer_keras.models.classifier import TransformerClassifier
    from transformer_keras.text import load_huggingface_tokenizer

    folder, config = read_model_config(path, ("bert",))
    tokenizer = load_huggingface_tokenizer(folder)
    tensors = read_weights(folder)
    with_head = config.get("num_labels", len(config.get("id2label") or {})) == num_classes
    with_head = with_head and any(name.startswith("classifier.") for name in tensors)
    if label_names is None and with_head and config.get("id2label"):
        label_names = [config["id2label"][str(i)] for i in range(num_classes)]
    classifier_dropout = config.get("classifier_dropout")
    if classifier_dropout is None:
        classifier_dropout = config.get("hidden_dropout_prob", 0.1)
    architecture = bert_backbone_arguments(config)
    if max_sequence_length is not None:
        if not 0 < max_sequence_length <= architecture["max_sequence_length"]:
            raise ValueError(
                "`max_sequence_length` must be in [1, "
                f"{architecture['max_sequence_length']}] (the checkpoint's positions). "
                f"Received: max_sequence_length={max_sequence_length}"
            )
        architecture["max_sequence_length"] = max_sequence_length
    backbone = Backbone(**architecture, dtype=dtype, name="backbone")
    arguments = dict(
        pooling="cls",
        pooler=True,
        add_end_token=True,
        classifier_dropout=classifier_dropout,
        tokenizer=tokenizer,
        label_names=label_names,
        dtype=dtype,
    )
    model = TransformerClassifier(backbone, num_classes, **{**arguments, **overrides})
    model.build((None, None))
    copier = WeightCopier(tensors, folder)
    copy_bert_weights(model.backbone, copier)
    copy_bert_head(model, copier, with_head)
    return model


def _copier(copier, variables):
    """`copy(our path, their name, transform)`, with or without the `bert.` prefix."""

    def copy(target, name, transform=None):
        candidates = [f"bert.{name}", name]
        if name.endswith("LayerNorm.weight"):  # the original TF checkpoints' names
            candidates += [f"bert.{name[:-6]}gamma", f"{name[:-6]}gamma"]
        if name.endswith("LayerNorm.bias"):
            candidates += [f"bert.{name[:-4]}beta", f"{name[:-4]}beta"]
        source, array = copier.tensor(*candidates)
        copier.copy(variables[target], source, array, transform)

    return copy


def copy_bert_weights(backbone, copier):
    """BERT's embeddings and encoder layers into an encoder `Backbone`."""
    variables = backbone_variables(backbone)
    copy = _copier(copier, variables)
    n = backbone.num_heads
    copy("embedding/token_embedding/embeddings", "embeddings.word_embeddings.weight")  # (V, D)
    _, token_types = copier.tensor(
        "bert.embeddings.token_type_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
    )  # (2, D)
    copy(
        "embedding/position_embedding/embeddings",
        "embeddings.position_embeddings.weight",
        # (P, D): every token has type 0; the first rows when the model reads fewer.
        lambda table: (table + token_types[0])[: backbone.max_sequence_length],
    )
    copy("embedding/norm/gamma", "embeddings.LayerNorm.weight")
    copy("embedding/norm/beta", "embeddings.LayerNorm.bias")
    for index in range(backbone.num_layers):
        ours, theirs = f"encoder/layer_{index}/", f"encoder.layer.{index}."
        self_attention = theirs + "attention.self."
        output = theirs + "attention.output."
        copy_linear_attention(
            copy,
            ours + "self_attention_block/attention/",
            {
                "query": self_attention + "query.",
                "key": self_attention + "key.",
                "value": self_attention + "value.",
                "attention_output": output + "dense.",
            },
            n,
        )
        copy(ours + "self_attention_block/norm/gamma", output + "LayerNorm.weight")
        copy(ours + "self_attention_block/norm/beta", output + "LayerNorm.bias")
        feedforward = ours + "feedforward_block/"
        copy_linear_feedforward(
            copy, feedforward, theirs + "intermediate.dense.", theirs + "output.dense."
        )
        copy(feedforward + "norm/gamma", theirs + "output.LayerNorm.weight")
        copy(feedforward + "norm/beta", theirs + "output.LayerNorm.bias")


def copy_bert_head(model, copier, with_head):
    """BERT's pooler (when both have one) and, `with_head`, its classifier."""
    layers = {} if model.pooler_dense is None else {"pooler": model.pooler_dense}
    if with_head:
        layers["classifier"] = model.head
    variables = {
        f"{name}/{variable.name}": variable
        for name, layer in layers.items()
        for variable in layer.weights
    }
    copy = _copier(copier, variables)
    has_pooler = {"bert.pooler.dense.weight", "pooler.dense.weight"} & set(copier.tensors)
    if layers.get("pooler") is not None and has_pooler:
        copy("pooler/kernel", "pooler.dense.weight", linear_kernel)  # (D, D)
        copy("pooler/bias", "pooler.dense.bias")
    if with_head:
        copy("classifier/kernel", "classifier.weight", linear_kernel)  # (D, C)
        copy("classifier/bias", "classifier.bias")
