import doctest
import json

import keras
import numpy as np
import pytest

from transformer_keras.optimization.schedules import TransformerSchedule, warmup_cosine


def paper_formula(step, hidden_dim, warmup_steps, scale=1.0):
    """Section 5.3, with `step` counted from 1."""
    return scale * hidden_dim**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


@pytest.mark.parametrize("iteration", [0, 1, 99, 3999, 4000, 10_000, 100_000])
def test_transformer_schedule_follows_the_paper_formula(iteration):
    schedule = TransformerSchedule(hidden_dim=512, warmup_steps=4000)
    expected = paper_formula(iteration + 1, 512, 4000)
    np.testing.assert_allclose(float(schedule(iteration)), expected, rtol=1e-6)


def test_transformer_schedule_peaks_at_warmup_end_and_scales():
    schedule = TransformerSchedule(hidden_dim=64, warmup_steps=10, scale=2.0)
    rates = [float(schedule(iteration)) for iteration in range(30)]
    assert int(np.argmax(rates)) == 9  # the 10th update, step == warmup_steps
    np.testing.assert_allclose(rates[9], 2.0 * (64 * 10) ** -0.5, rtol=1e-6)
    np.testing.assert_allclose(rates[20], paper_formula(21, 64, 10, scale=2.0), rtol=1e-6)


def test_transformer_schedule_serializes_and_drives_an_optimizer():
    schedule = TransformerSchedule(hidden_dim=32, warmup_steps=50, scale=0.5)
    config = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(config)))
    assert isinstance(restored, TransformerSchedule)
    assert restored.get_config() == {"hidden_dim": 32, "warmup_steps": 50, "scale": 0.5}
    optimizer = keras.optimizers.Adam(learning_rate=restored)
    variable = keras.Variable(np.ones(2, "float32"))
    optimizer.apply_gradients([(np.ones(2, "float32"), variable)])
    # After one update the optimizer reports the rate of the next (second) step.
    np.testing.assert_allclose(
        float(optimizer.learning_rate), paper_formula(2, 32, 50, 0.5), rtol=1e-6
    )


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"hidden_dim": 0}, "Received: hidden_dim=0"),
        ({"hidden_dim": 8, "warmup_steps": 1.5}, "Received: warmup_steps=1.5"),
        ({"hidden_dim": 8, "scale": -1.0}, "Received: scale=-1.0"),
    ],
)
def test_transformer_schedule_rejects_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message):
        TransformerSchedule(**arguments)


def test_warmup_cosine_warms_up_linearly_then_follows_cosine_decay():
    peak, warmup, total, final = 1e-3, 10, 110, 1e-4
    schedule = warmup_cosine(
        peak, warmup_steps=warmup, total_steps=total, final_learning_rate=final
    )
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    for step in (0, 3, 10, 35, 60, 100, 110, 500):
        if step <= warmup:
            expected = peak * step / warmup
        else:
            progress = min(step - warmup, total - warmup) / (total - warmup)
            expected = final + (peak - final) * 0.5 * (1 + np.cos(np.pi * progress))
        np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-5, atol=1e-9)
    restored = keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(schedule)
    )
    np.testing.assert_allclose(float(restored(35)), float(schedule(35)), rtol=1e-7)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"peak": 0.0}, "Received: peak=0.0"),
        ({"warmup_steps": -1}, "Received: warmup_steps=-1"),
        ({"total_steps": 10}, "Received: total_steps=10"),
        ({"final_learning_rate": 2e-3}, "Received: final_learning_rate=0.002"),
    ],
)
def test_warmup_cosine_rejects_bad_arguments(arguments, message):
    values = {"peak": 1e-3, "warmup_steps": 10, "total_steps": 100, **arguments}
    with pytest.raises(ValueError, match=message):
        warmup_cosine(**values)


def test_docstring_examples_run():
    from transformer_keras.optimization import schedules

    assert doctest.testmod(schedules).failed == 0
