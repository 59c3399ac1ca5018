"""Augmentation on a hand-made image: crops shift with zero fill, flips mirror, shapes stay;
normalization centres the data."""

import torch

from nasdsl.data import Augment, Batches, load_dataset
from nasdsl.data.augment import normalize, random_crop, random_flip
from nasdsl.data.images import build

# Two 1x3x4 images: pixels 1..12, and the same plus 100.
IMAGE = torch.arange(1, 13, dtype=torch.uint8).view(1, 1, 3, 4)
IMAGES = torch.cat([IMAGE, IMAGE + 100])


def test_centre_crop_is_the_image():
    """An offset of exactly the padding crops the original image back."""
    assert torch.equal(random_crop(IMAGES, torch.tensor([[1, 1], [1, 1]]), 1), IMAGES)


def test_crop_shifts_with_zero_fill_per_image():
    """Offsets are (row, column) of the padded image, one per image: (0, 2) moves the first
    image down and left by the padding, (2, 1) the second up; zeros fill in; shapes stay."""
    out = random_crop(IMAGES, torch.tensor([[0, 2], [2, 1]]), 1)
    assert out.shape == IMAGES.shape and out.dtype == torch.uint8
    assert out[0, 0].tolist() == [[0, 0, 0, 0], [2, 3, 4, 0], [6, 7, 8, 0]]
    assert out[1, 0].tolist() == [[105, 106, 107, 108], [109, 110, 111, 112], [0, 0, 0, 0]]


def test_flip_mirrors_only_the_chosen_images():
    """flips[i] mirrors image i left to right and leaves the others."""
    out = random_flip(IMAGES, torch.tensor([True, False]))
    assert out[0, 0, 0].tolist() == [4, 3, 2, 1]
    assert torch.equal(out[1], IMAGES[1])


def test_augmented_batches_keep_shapes_and_vary():
    """Augmented batches of 3x32x32 images stay 3x32x32; copies of one image, with crops and
    flips, come out in many different ways."""
    image = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    data = build("one", (image.repeat(8, 1, 1, 1), torch.zeros(8)), (image, torch.zeros(1)), 1)
    assert Augment.standard(data) == Augment(padding=4, flip=True)
    batches = Batches.training(data, torch.arange(8), 8, seed=0)
    seen = torch.cat([x for e in range(3) for x, _ in batches.epoch(e)])
    assert seen.shape == (24, 3, 32, 32)
    assert len({tuple(x.flatten().tolist()) for x in seen}) > 12


def test_small_images_pad_by_one_and_digits_do_not_flip():
    """8x8 digits crop with padding 1 and never flip (a mirrored digit is another glyph)."""
    digits = load_dataset("digits", subset=20)
    assert Augment.standard(digits) == Augment(padding=1, flip=False)


def test_normalization_gives_zero_mean_unit_std():
    """Normalizing a dataset's training images with its own statistics gives mean 0 and
    standard deviation 1 per channel."""
    images = torch.randint(0, 256, (40, 3, 6, 6), dtype=torch.uint8)
    images[:, 2] = images[:, 2] // 8 + 30
    data = build("noise", (images, torch.zeros(40)), (images[:1], torch.zeros(1)), 1)
    x = normalize(data.train_images, data.mean, data.std)
    assert x.dtype == torch.float32
    assert torch.allclose(x.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(x.std((0, 2, 3), correction=0), torch.ones(3), atol=1e-5)
