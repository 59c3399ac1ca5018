"""The data side of a search: the dataset, its split into a weight half and an architecture
half (DARTS's train_portion), and the batches of each epoch."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from nasdsl.data.batches import Batch, Batches
from nasdsl.data.load import load_dataset
from nasdsl.data.split import split_train


class DataFeed:
    """The data of a search; `notes` say where it had to differ from the settings."""

    def __init__(self, config):
        self.data = load_dataset(config.dataset, config.data_dir, config.subset, config.seed)
        self.notes: list[str] = []
        images = len(self.data.train_labels)
        if config.subset is not None and config.subset > images:
            self.notes.append(f"--subset {config.subset} is more than the {images} training "
                              f"images of {config.dataset}: all {images} are used")
        split = split_train(self.data, config.train_portion, config.seed)
        batch = min(config.batch, len(split.weights), len(split.arch))
        if batch < config.batch:
            self.notes.append(f"--batch {config.batch} is more than the {batch} images of the "
                              f"smaller half of the training images: batches of {batch}")
        self.weight_batches = Batches.training(self.data, split.weights, batch, config.seed,
                                               stream="weights", drop_last=True)
        self.arch_batches = Batches.training(self.data, split.arch, batch, config.seed,
                                             stream="arch", drop_last=True)
        self.valid = Batches.evaluation(self.data, batch, split="train", indices=split.arch)

    @property
    def classes(self) -> int:
        return self.data.classes

    @property
    def channels(self) -> int:
        return self.data.channels

    @property
    def size(self) -> int:
        return self.data.image_shape[1]

    def search_batches(self, epoch: int) -> Iterable[tuple[Batch, Batch]]:
        """Pairs (weight batch, architecture batch), as many as the shorter half gives."""
        return zip(self.weight_batches.epoch(epoch), self.arch_batches.epoch(epoch))

    def steps(self) -> int:
        return min(len(self.weight_batches), len(self.arch_batches))

    def valid_batches(self) -> Iterator[Batch]:
        """The architecture half in order, unaugmented: what the supernet is evaluated on."""
        return iter(self.valid)

    def progress(self, batches, epoch: int, enabled: bool):
        if not enabled:
            return batches
        from tqdm import tqdm
        return tqdm(batches, total=self.steps(), desc=f"epoch {epoch}", leave=False,
                    unit="step")
