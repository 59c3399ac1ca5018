"""Dataset names, the built-in digits, subsets and per-channel statistics."""

import pytest
import torch

from nasdsl.data import load_dataset
from nasdsl.data.images import channel_stats
from nasdsl.errors import NasError


def test_digits_load_offline_by_default():
    """The default dataset needs no directory and no network: 1500 training and 297 test
    images of 1x8x8 uint8, 10 classes, every class present in both splits."""
    data = load_dataset("digits", None)
    assert data.name == "digits" and data.classes == 10
    assert data.train_images.shape == (1500, 1, 8, 8) and data.test_images.shape == (297, 1, 8, 8)
    assert data.train_images.dtype == torch.uint8 and data.train_labels.dtype == torch.int64
    assert int(data.train_images.max()) == 255
    assert set(data.train_labels.tolist()) == set(data.test_labels.tolist()) == set(range(10))
    assert not data.flips_keep_class


def test_digits_split_is_fixed_and_does_not_follow_the_seed():
    """Loading twice gives the same split, and another run seed scores on the same test set."""
    first, again, other = (load_dataset("digits", seed=s) for s in (0, 0, 7))
    assert torch.equal(first.train_images, again.train_images)
    assert torch.equal(first.train_labels, again.train_labels)
    assert torch.equal(first.test_images, other.test_images)
    # the split is shuffled, not the file order (which cycles 0, 1, 2, ..., 9)
    assert first.train_labels[:10].tolist() != list(range(10))


def test_digits_takes_no_data_dir(tmp_path):
    """A --data-dir with the default dataset is likely a forgotten --dataset: an error."""
    with pytest.raises(NasError, match="reads no --data-dir"):
        load_dataset("digits", tmp_path)


def test_misspelt_dataset_name_suggests_the_right_one():
    """'cifar-10' is unknown, with a hint naming cifar10; names are case-insensitive."""
    with pytest.raises(NasError, match="unknown dataset 'cifar-10'") as caught:
        load_dataset("cifar-10", None)
    assert caught.value.hint == "did you mean 'cifar10'?"
    with pytest.raises(NasError) as caught:
        load_dataset("ImageNet16", None)
    assert caught.value.hint == "did you mean 'imagenet16-120'?"
    assert load_dataset("DIGITS", None, subset=10).name == "digits"


@pytest.mark.parametrize("subset, train, test", [(64, 64, 13), (1, 1, 1), (1499, 1499, 297),
                                                 (1500, 1500, 297), (10**6, 1500, 297),
                                                 (None, 1500, 297)])
def test_subset_sizes(subset, train, test):
    """--subset keeps that many training images and test images in proportion (297/1500),
    at least one and never more than the subset; a subset as large as the set keeps all."""
    data = load_dataset("digits", subset=subset)
    assert (len(data.train_labels), len(data.test_labels)) == (train, test)


def test_subset_is_seeded():
    """The same seed keeps the same images; another seed other images."""
    a, b, c = (load_dataset("digits", subset=50, seed=s) for s in (1, 1, 2))
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)
    assert not torch.equal(a.train_images, c.train_images)


@pytest.mark.parametrize("subset", [0, -5])
def test_subset_must_be_positive(subset):
    """A subset of no images is a user error, not an empty run."""
    with pytest.raises(NasError, match="--subset must be a positive number"):
        load_dataset("digits", subset=subset)


def test_channel_stats_are_those_of_the_pixels():
    """mean and std per channel, as fractions of 255, equal a direct float computation."""
    images = torch.randint(0, 256, (50, 3, 5, 5), dtype=torch.uint8)
    images[:, 1] //= 4
    mean, std = channel_stats(images)
    pixels = images.double() / 255
    assert torch.allclose(torch.tensor(mean, dtype=torch.float64), pixels.mean((0, 2, 3)))
    assert torch.allclose(torch.tensor(std, dtype=torch.float64),
                          pixels.std((0, 2, 3), correction=0))
