"""Mini-batches: reproducible per (seed, stream, epoch), covering their images, in order
for evaluation."""

import pytest
import torch

from nasdsl.data import Augment, Batches, load_dataset, split_train
from nasdsl.data.images import build
from nasdsl.errors import NasError


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", subset=200)


def epoch_tensors(batches, epoch):
    xs, ys = zip(*batches.epoch(epoch))
    return torch.cat(xs), torch.cat(ys)


def test_same_seed_and_epoch_give_identical_batches(digits):
    """A fresh Batches with the same seed, stream and epoch (a resumed run) yields exactly
    the same images, augmentation included, and labels."""
    indices = torch.arange(0, 200, 2)
    first = Batches.training(digits, indices, 16, seed=3, stream="weights")
    resumed = Batches.training(digits, indices, 16, seed=3, stream="weights")
    for (x, y), (x2, y2) in zip(first.epoch(5), resumed.epoch(5), strict=True):
        assert torch.equal(x, x2) and torch.equal(y, y2)


def test_epochs_streams_and_seeds_differ(digits):
    """Another epoch, another stream (the architecture half) or another seed reorders."""
    indices = torch.arange(100)
    base = Batches.training(digits, indices, 100, seed=0, stream="weights")
    x0, y0 = epoch_tensors(base, 0)
    for other, epoch in [(base, 1), (Batches.training(digits, indices, 100, 0, "arch"), 0),
                         (Batches.training(digits, indices, 100, 1, "weights"), 0)]:
        x, y = epoch_tensors(other, epoch)
        assert not torch.equal(y, y0) and not torch.equal(x, x0)


def test_an_epoch_visits_each_image_once():
    """Shuffling permutes the index set: every image of it once, the last batch partial."""
    images = torch.arange(30, dtype=torch.uint8).repeat_interleave(64).view(30, 1, 8, 8)
    data = build("ids", (images, torch.zeros(30)), (images[:1], torch.zeros(1)), 1,
                 stats=((0.0,), (1 / 255,)))
    indices = torch.arange(3, 30, 3)
    batches = Batches.training(data, indices, 4, seed=0, augment=Augment(padding=0, flip=False))
    sizes = [len(y) for _, y in batches.epoch(0)]
    seen = torch.cat([x[:, 0, 0, 0] for x, _ in batches.epoch(0)]).round().long().tolist()
    assert sizes == [4, 4, 1] and len(batches) == 3
    assert sorted(seen) == indices.tolist() and seen != indices.tolist()


def test_drop_last_and_too_few_images(digits):
    """drop_last leaves out the partial batch; if that leaves nothing, it is an error."""
    batches = Batches.training(digits, torch.arange(10), 4, seed=0, drop_last=True)
    assert [len(y) for _, y in batches.epoch(0)] == [4, 4] and len(batches) == 2
    with pytest.raises(NasError, match="a batch of 16 from 10 images leaves no batch"):
        Batches.training(digits, torch.arange(10), 16, seed=0, drop_last=True)


def test_evaluation_batches_are_in_order_and_unaugmented(digits):
    """Evaluation batches are the normalized images in order, the same every time."""
    batches = Batches.evaluation(digits, 25)
    x = torch.cat([x for x, _ in batches])
    y = torch.cat([y for _, y in batches])
    mean, std = digits.mean[0], digits.std[0]
    assert torch.allclose(x, (digits.test_images.float() / 255 - mean) / std)
    assert torch.equal(y, digits.test_labels)
    arch = split_train(digits, 0.5, seed=0).arch
    xa, ya = next(iter(Batches.evaluation(digits, 8, split="train", indices=arch)))
    assert torch.equal(ya, digits.train_labels[arch[:8]])


def test_training_batches_are_not_iterated_without_an_epoch(digits):
    """Iterating shuffled batches directly would repeat one epoch forever: refused."""
    with pytest.raises(TypeError, match="use .epoch"):
        iter(Batches.training(digits, torch.arange(10), 4, seed=0))
