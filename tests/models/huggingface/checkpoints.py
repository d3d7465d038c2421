"""Tiny, randomly initialised Hugging Face checkpoints, made by `transformers` offline.

Each builder copies a tokenizer folder of `tests/text/pretrained/conftest.py`
(real vocabularies trained on real text) into `folder`, saves a tiny random
model of `transformers` beside it, and returns that reference model.
"""

import json
import shutil


def _copy_tokenizer(tokenizer_folder, folder):
    for path in tokenizer_folder.iterdir():
        shutil.copy(path, folder / path.name)


def _perturb_norms_and_biases(model, torch, norm_name):
    """Layer norms and biases away from 1 and 0, so that their copies are checked."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if norm_name in name or name.endswith("bias"):
                parameter.add_(0.1 * torch.randn_like(parameter))


def gpt2_checkpoint(tokenizer_folder, folder):
    import torch
    import transformers

    _copy_tokenizer(tokenizer_folder, folder)
    vocabulary = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    end_of_text = len(vocabulary) - 1
    config = transformers.GPT2Config(
        vocab_size=len(vocabulary),
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=end_of_text,
        eos_token_id=end_of_text,
        initializer_range=0.2,  # large weights: varied greedy continuations
    )
    torch.manual_seed(0)
    reference = transformers.GPT2LMHeadModel(config).eval()
    reference.save_pretrained(folder)
    return reference


BERT_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}


def bert_checkpoint(tokenizer_folder, folder, labels=BERT_LABELS):
    import torch
    import transformers

    _copy_tokenizer(tokenizer_folder, folder)
    vocabulary_size = len((folder / "vocab.txt").read_text(encoding="utf-8").splitlines())
    config = transformers.BertConfig(
        vocab_size=vocabulary_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=24,
        id2label=labels,
        label2id={name: int(i) for i, name in labels.items()},
        initializer_range=0.2,  # large weights: outputs far from uniform
    )
    torch.manual_seed(0)
    reference = transformers.BertForSequenceClassification(config).eval()
    _perturb_norms_and_biases(reference, torch, "LayerNorm")
    reference.save_pretrained(folder)
    return reference


# Added to `</s>`'s logit: the random model ends some outputs, at varied lengths.
MARIAN_END_BIAS = 3.5


def marian_checkpoint(tokenizer_folder, folder):
    import torch
    import transformers

    _copy_tokenizer(tokenizer_folder, folder)
    vocabulary = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    pad = vocabulary["<pad>"]
    config = transformers.MarianConfig(
        vocab_size=len(vocabulary),
        decoder_vocab_size=len(vocabulary),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=48,
        max_position_embeddings=64,
        activation_function="swish",  # opus-mt's
        scale_embedding=True,
        pad_token_id=pad,
        eos_token_id=vocabulary["</s>"],
        decoder_start_token_id=pad,
        forced_eos_token_id=None,
        init_std=1.0,  # large weights: less repetitive continuations
    )
    torch.manual_seed(0)
    reference = transformers.MarianMTModel(config).eval()
    _perturb_norms_and_biases(reference, torch, "layer_norm")
    with torch.no_grad():
        reference.model.shared.weight.normal_(0.0, 0.3)  # the tied embedding
        reference.final_logits_bias.normal_(0.0, 0.5)
        reference.final_logits_bias[0, vocabulary["</s>"]] += MARIAN_END_BIAS
    reference.save_pretrained(folder)
    return reference
