"""What a callback remembers between epochs, so that a resumed run continues it.

A run killed and started again must end as if it had never stopped, and some
callbacks carry state from epoch to epoch: `EarlyStopping` its best value,
patience count and best weights, `ModelCheckpoint` and `BestWeightsCheckpoint`
the best value so far, `SwapEMAWeights` whether the averaged weights are in the
model, `ReduceLROnPlateau` its wait and cooldown counters. `callback_state`
reads that state and `restore_callback_state` puts it back; the training state
(`backup.py`) saves it beside the weights. A callback class of its own can
take part by defining `get_state()` (a JSON-able dict, with NumPy arrays
under the key `"arrays"` if any) and `set_state(state)`. Callbacks that keep
nothing between epochs (learning-rate schedules are functions of the
optimizer's step, which is saved; BLEU and text samples are recomputed) need
nothing.
"""

import keras
import numpy as np

# Attributes that hold the state of Keras' own callbacks, by class.
_KERAS_STATE_ATTRIBUTES = (
    (keras.callbacks.EarlyStopping, ("wait", "stopped_epoch", "best", "best_epoch")),
    (keras.callbacks.ModelCheckpoint, ("best",)),
    (keras.callbacks.ReduceLROnPlateau, ("wait", "best", "cooldown_counter")),
    (keras.callbacks.SwapEMAWeights, ("_ema_weights_in_model",)),
)


def _json_value(value):
    """A plain Python number, bool or `None` (NumPy scalars and 0-d arrays too)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return np.asarray(value).item()


def callback_state(callback):
    """The state `callback` carries between epochs, or `None` if it keeps none.

    Returns:
        `None`, or a dict of JSON-able values; NumPy arrays (such as
        `EarlyStopping`'s best weights) are under `"arrays"`, a list.

    Example:
    >>> stopping = keras.callbacks.EarlyStopping(patience=3)
    >>> stopping.on_train_begin()
    >>> stopping.wait, stopping.best = 2, 0.5
    >>> callback_state(stopping)["wait"], callback_state(stopping)["best"]
    (2, 0.5)
    """
    if hasattr(callback, "get_state"):
        return callback.get_state()
    for cls, attributes in _KERAS_STATE_ATTRIBUTES:
        if isinstance(callback, cls):
            state = {name: _json_value(getattr(callback, name, None)) for name in attributes}
            if isinstance(callback, keras.callbacks.EarlyStopping):
                weights = callback.best_weights
                state["arrays"] = None if weights is None else [np.asarray(w) for w in weights]
            return state
    return None


def restore_callback_state(callback, state):
    """Puts back what `callback_state(callback)` returned (after `on_train_begin`).

    Example:
    >>> stopping = keras.callbacks.EarlyStopping(patience=3)
    >>> stopping.on_train_begin()
    >>> restore_callback_state(stopping, {"wait": 2, "stopped_epoch": 0, "best": 0.5,
    ...                                   "best_epoch": 1, "arrays": None})
    >>> stopping.wait, stopping.best_epoch
    (2, 1)
    """
    if hasattr(callback, "set_state"):
        callback.set_state(state)
        return
    state = dict(state)
    arrays = state.pop("arrays", None)
    for name, value in state.items():
        setattr(callback, name, value)
    if isinstance(callback, keras.callbacks.EarlyStopping):
        callback.best_weights = None if arrays is None else list(arrays)


def callback_keys(callbacks):
    """A stable key per callback: its class name and its rank among its class.

    States are matched by key, not by position, so that a worker whose list
    lacks a callback that keeps no state (TensorBoard on a non-chief worker)
    still finds the others' states.

    Example:
    >>> callback_keys([keras.callbacks.TerminateOnNaN(), keras.callbacks.TerminateOnNaN()])
    ['TerminateOnNaN-0', 'TerminateOnNaN-1']
    """
    counts, keys = {}, []
    for callback in callbacks:
        name = type(callback).__name__
        keys.append(f"{name}-{counts.get(name, 0)}")
        counts[name] = counts.get(name, 0) + 1
    return keys
