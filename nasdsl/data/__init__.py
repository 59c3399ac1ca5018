"""The data a search trains on: datasets loaded into memory, the search's split of the
training set, and reproducible mini-batches with the standard augmentation.

    data = load_dataset("cifar10", data_dir, subset=5000, seed=0)
    split = split_train(data, portion=0.5, seed=0)
    weights = Batches.training(data, split.weights, 64, seed=0, stream="weights")
    arch = Batches.training(data, split.arch, 64, seed=0, stream="arch")
    for (x, y), (xa, ya) in zip(weights.epoch(epoch), arch.epoch(epoch)): ...
    for x, y in Batches.evaluation(data, 256, split="train", indices=split.arch): ...
"""

from nasdsl.data.augment import Augment
from nasdsl.data.batches import Batches
from nasdsl.data.images import ImageData
from nasdsl.data.load import LOADERS, load_dataset
from nasdsl.data.split import SearchSplit, split_train

__all__ = ["LOADERS", "Augment", "Batches", "ImageData", "SearchSplit", "load_dataset",
           "split_train"]
