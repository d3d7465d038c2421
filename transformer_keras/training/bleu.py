"""Corpus BLEU and chrF of translations, with sacreBLEU's default settings."""

import sacrebleu


def corpus_scores(hypotheses, references):
    """sacreBLEU's corpus BLEU and chrF of `hypotheses` against one reference each.

    Args:
        hypotheses: a list of translations (strings).
        references: a list of as many reference translations.

    Returns:
        `{"bleu": float, "chrf": float}`, each in [0, 100].

    Example:
    >>> scores = corpus_scores(["the cat sat on the mat ."], ["the cat sat on the mat ."])
    >>> round(scores["bleu"], 2), round(scores["chrf"], 2)
    (100.0, 100.0)
    """
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(
            f"`references` must hold one translation per hypothesis ({len(hypotheses)}). "
            f"Received: len(references)={len(references)}"
        )
    return {
        "bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
        "chrf": sacrebleu.corpus_chrf(hypotheses, [references]).score,
    }
