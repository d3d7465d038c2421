"""The one UTF-8 repair: every text that enters or leaves a graph goes through it.

Example:
>>> import tensorflow as tf
>>> valid_utf8(tf.constant([b"caf\\xc3\\xa9", b"cut \\xc3"])).numpy()[1].decode()
'cut \ufffd'
"""

import tensorflow as tf


def valid_utf8(texts):
    """`tf.string` texts with every invalid UTF-8 byte sequence replaced by U+FFFD.

    Args:
        texts: a `tf.string` tensor of any shape (or what converts to one).

    Returns:
        A `tf.string` tensor of the same shape, valid UTF-8. Valid text,
        control characters included, is left as it is.
    """
    return tf.strings.unicode_transcode(
        tf.convert_to_tensor(texts, tf.string),
        "UTF-8",
        "UTF-8",
        errors="replace",
        replace_control_characters=False,
    )
