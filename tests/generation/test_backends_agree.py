"""TensorFlow and JAX decode the same weights into the same greedy tokens.

One model with fixed weights is saved as `.keras`; this process generates
with it on its own backend and a child process (`KERAS_BACKEND` is fixed per
process) generates with the reloaded file on the other one. Greedy tokens are
equal across backends, within the context and past it (the cache slides);
sampling with one seed repeats itself on each backend (the two backends draw
different random numbers, so sampled tokens are compared run to run only).
"""

import keras
import pytest

from tests.child_processes import child_environment, run_script
from tests.child_processes.backend_generation import generations
from tests.generation.test_language_model_decode import tiny_model

# One run covers both backends (its child takes the other one): `make test` runs
# it under TensorFlow only.
pytestmark = [pytest.mark.slow, pytest.mark.tf_only]

OTHER_BACKEND = {"tensorflow": "jax", "jax": "tensorflow"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    path = tmp_path_factory.mktemp("lm") / "lm.keras"
    model = tiny_model()
    model.save(path)
    here = generations(model)
    other = OTHER_BACKEND[keras.backend.backend()]
    there = run_script("backend_generation", path, env=child_environment(KERAS_BACKEND=other))
    assert (here["backend"], there["backend"]) == (keras.backend.backend(), other)
    return {report["backend"]: report for report in (here, there)}


@pytest.mark.parametrize("key", ["greedy", "greedy_long", "recomputed"])
def test_greedy_tokens_are_equal_on_both_backends(reports, key):
    assert reports["tensorflow"][key] == reports["jax"][key]
    assert [len(row) for row in reports["jax"][key]] == [40 if key == "greedy_long" else 9] * 3
    assert len(set(reports["jax"][key][0])) > 2  # continuations that vary


def test_greedy_with_the_cache_equals_recomputation_on_both_backends(reports):
    for report in reports.values():
        assert report["greedy"] == report["recomputed"]


@pytest.mark.parametrize("backend", ["tensorflow", "jax"])
def test_sampling_with_a_seed_repeats_itself_on_each_backend(reports, backend):
    report = reports[backend]
    assert report["sampled"] == report["sampled_again"]
    assert len(set(report["sampled"][0])) > 3  # sampled, not greedy
