"""Gradient clipping that gives the same update on several replicas as on one device.

Under a `tf.distribute` strategy, Keras 3 optimizers clip each replica's
gradients (`clipnorm`, `global_clipnorm`, `clipvalue`) *before* summing them
over the replicas. The sum of clipped parts is not the clipped sum: with two
replicas, a gradient of norm 1.5 split into halves of norm 0.75 passes a
`clipnorm=1` untouched, while one device clips it to 1. Loss curves then
drift apart as soon as clipping is active.

`ClipSummedGradients` is an optimizer mixin that sums the gradients over the
replicas first, clips the sum, and hands each replica `1 / replicas` of the
clipped sum, which the optimizer's own all-reduce then adds back up to
exactly the clipped sum. It costs one extra all-reduce per step, only when
clipping is on and there is more than one replica.

Embedding gradients (`tf.IndexedSlices`, one slice per token with repeated
ids not yet added up) are made dense before clipping, so that `clipnorm`
measures the gradient's true norm; Keras would measure the norm of the
unsummed slices, which depends on how the batch is split.
"""


class ClipSummedGradients:
    """Mixin for a Keras optimizer: clip the replica-summed gradients, as on one device.

    Put it before the Keras optimizer class:
    `class MyAdamW(ClipSummedGradients, keras.optimizers.AdamW)`.

    Example:
    >>> import keras
    >>> class ClippedSGD(ClipSummedGradients, keras.optimizers.SGD):
    ...     pass
    >>> ClippedSGD(learning_rate=0.1, clipnorm=1.0).clipnorm
    1.0
    """

    def _clip_gradients(self, grads):
        clipping = self.clipnorm or self.global_clipnorm or self.clipvalue
        context = _replica_context()
        if not clipping or context is None:
            return super()._clip_gradients(grads)
        import tensorflow as tf

        # Embedding gradients arrive as `IndexedSlices` with one slice per
        # token, repeated ids unsummed, whose norm is not the gradient's;
        # dense tensors clip by the true norm, on any number of replicas.
        grads = [tf.convert_to_tensor(grad) if grad is not None else None for grad in grads]
        if context.num_replicas_in_sync == 1:
            return super()._clip_gradients(grads)
        present = [index for index, grad in enumerate(grads) if grad is not None]
        summed = context.all_reduce("sum", [grads[index] for index in present])
        clipped = super()._clip_gradients(summed)
        shares = list(grads)
        for index, grad in zip(present, clipped):
            shares[index] = grad / context.num_replicas_in_sync
        return shares


def _replica_context():
    """The `tf.distribute` replica context, or None outside TensorFlow replicas."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return tf.distribute.get_replica_context()
