"""The search's split of the training set into a weight half and an architecture half."""

import pytest
import torch

from nasdsl.data import load_dataset, split_train
from nasdsl.errors import NasError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", subset=101)


def test_halves_are_disjoint_and_cover_the_training_set(digits):
    """portion 0.5 of 101 images: 50 for the weights, 51 for the architecture, no overlap;
    a portion just under 1 still leaves the architecture one image."""
    split = split_train(digits, 0.5, seed=0)
    assert (len(split.weights), len(split.arch)) == (50, 51)
    assert len(split_train(digits, 0.9999).arch) == 1
    assert sorted(torch.cat([split.weights, split.arch]).tolist()) == list(range(101))


def test_split_is_seeded_and_shuffled(digits):
    """The same seed gives the same split, another seed another; not the first half in order."""
    a, b, c = (split_train(digits, 0.3, seed=s) for s in (4, 4, 5))
    assert torch.equal(a.weights, b.weights) and not torch.equal(a.weights, c.weights)
    assert a.weights.tolist() != list(range(30))


@pytest.mark.parametrize("portion, message", [(0.0, "between 0 and 1"), (1.0, "between 0 and 1"),
                                              (0.005, "leaves the weights none")])
def test_bad_portions_are_user_errors(digits, portion, message):
    """A portion outside (0, 1), or one leaving the weights no image, is a NasError."""
    with pytest.raises(NasError, match=message):
        split_train(digits, portion)
