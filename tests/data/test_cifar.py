"""CIFAR-10 and CIFAR-100 from their pickle layout, and the download that stands in for it."""

import hashlib
import io
import tarfile
import urllib.error

import attrs
import numpy as np
import pytest
import torch

from nasdsl.data import cifar, download, load_dataset
from nasdsl.errors import NasError
from tests.data.fakes import random_images, write_batch


def fake_cifar10(root, per_batch=4, byte_keys=False):
    """data_batch_1..5 of `per_batch` images each (labels cycling 0..9) and a test batch of 6."""
    folder = root / "cifar-10-batches-py"
    train = random_images(5 * per_batch, 32, seed=1)
    for i in range(5):
        part = slice(i * per_batch, (i + 1) * per_batch)
        write_batch(folder / f"data_batch_{i + 1}", train[part],
                    [j % 10 for j in range(part.start, part.stop)], "labels", byte_keys)
    test = random_images(6, 32, seed=2)
    write_batch(folder / "test_batch", test, [9, 8, 7, 6, 5, 4], "labels", byte_keys)
    return folder, train, test


def test_cifar10_reader_reads_every_batch_channel_planar(tmp_path):
    """The five training batches are concatenated in order, pixels rebuilt channel-planar,
    labels kept, with CIFAR's standard normalization constants."""
    _, train, test = fake_cifar10(tmp_path, byte_keys=True)
    data = load_dataset("cifar10", tmp_path)
    assert data.classes == 10 and data.image_shape == (3, 32, 32)
    assert torch.equal(data.train_images, torch.from_numpy(train))
    assert data.train_labels.tolist() == [j % 10 for j in range(20)]
    assert torch.equal(data.test_images, torch.from_numpy(test))
    assert data.test_labels.tolist() == [9, 8, 7, 6, 5, 4]
    assert data.mean == (0.4914, 0.4822, 0.4465) and data.std == (0.2470, 0.2435, 0.2616)


def test_cifar10_reader_accepts_the_batches_folder_itself(tmp_path):
    """--data-dir may name cifar-10-batches-py itself rather than its parent."""
    folder, train, _ = fake_cifar10(tmp_path)
    assert torch.equal(load_dataset("cifar10", folder).train_images, torch.from_numpy(train))


def test_cifar100_reader_uses_fine_labels(tmp_path):
    """CIFAR-100's train/test files are read with their 100 fine labels, not the coarse 20."""
    folder = tmp_path / "cifar-100-python"
    train, test = random_images(5, 32, seed=3), random_images(2, 32, seed=4)
    write_batch(folder / "train", train, [0, 42, 99, 7, 13], "fine_labels")
    write_batch(folder / "test", test, [55, 98], "fine_labels")
    data = load_dataset("cifar100", tmp_path)
    assert data.classes == 100
    assert data.train_labels.tolist() == [0, 42, 99, 7, 13]
    assert data.test_labels.tolist() == [55, 98]
    assert torch.equal(data.train_images, torch.from_numpy(train))
    assert data.mean == (0.5071, 0.4865, 0.4409)


def test_missing_batch_in_a_present_folder_is_named(tmp_path):
    """A layout with a batch missing is reported by file, not downloaded over."""
    folder, _, _ = fake_cifar10(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(NasError, match="data_batch_3"):
        load_dataset("cifar10", tmp_path)


def test_unreadable_batch_is_a_clear_error(tmp_path):
    """A file that is not a pickled batch, or one with too few pixels, is a NasError naming it."""
    folder, _, _ = fake_cifar10(tmp_path)
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(NasError, match="test_batch is not a readable pickle batch"):
        load_dataset("cifar10", tmp_path)
    write_batch(folder / "test_batch", random_images(2, 16, seed=0), [1, 2], "labels")
    with pytest.raises(NasError, match="do not make 2 images of 3x32x32"):
        load_dataset("cifar10", tmp_path)


def test_labels_outside_the_classes_are_rejected(tmp_path):
    """A label of 10 in CIFAR-10 is a broken file, caught at load time rather than in training."""
    folder, _, _ = fake_cifar10(tmp_path)
    write_batch(folder / "test_batch", random_images(2, 32, seed=0), [3, 10], "labels")
    with pytest.raises(NasError, match="outside 0..9"):
        load_dataset("cifar10", tmp_path)


def test_labels_outside_the_classes_are_rejected_whatever_the_subset_keeps(tmp_path):
    """The labels of every image are checked, not only of those --subset keeps."""
    folder, train, _ = fake_cifar10(tmp_path)
    write_batch(folder / "data_batch_5", train[:4], [0, 1, 2, 11], "labels")
    with pytest.raises(NasError, match="training labels run from 0 to 11"):
        load_dataset("cifar10", tmp_path, subset=2)


@pytest.mark.parametrize(("data", "labels", "message"), [
    ("pixels", [1, 2], "its 'data' is a str, not an array of pixel values"),
    (None, None, "its 'labels' is a NoneType, not a list of whole numbers"),
])
def test_a_batch_of_the_wrong_types_is_a_clear_error(tmp_path, data, labels, message):
    """A batch whose 'data' is a string or whose labels are None: a NasError, no traceback."""
    import pickle
    folder, _, _ = fake_cifar10(tmp_path)
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": random_images(2, 32, 0).reshape(2, -1) if data is None else data,
                     "labels": labels}, f)
    with pytest.raises(NasError, match=message):
        load_dataset("cifar10", tmp_path)


def test_offline_download_says_how_to_use_local_files(tmp_path):
    """Without the files and without a network, the error names the URL and explains
    --data-dir with the pickle layout and --dataset imagefolder; nothing half-written stays."""
    with pytest.raises(NasError) as caught:
        load_dataset("cifar10", tmp_path / "data")
    text = caught.value.render()
    assert "cannot download CIFAR-10 from https://www.cs.toronto.edu/~kriz/" in text
    assert "network is unreachable" in text
    assert "--data-dir DIR" in text and "cifar-10-batches-py" in text
    assert "--dataset imagefolder" in text
    assert "Traceback" not in text
    assert list((tmp_path / "data").iterdir()) == []


def fake_archive(folder: str, files: dict) -> bytes:
    """A .tar.gz holding `folder/name` for each of `files` (name -> bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"{folder}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class FakeResponse(io.BytesIO):
    def __init__(self, content: bytes):
        super().__init__(content)
        self.headers = {"Content-Length": str(len(content))}


def cifar100_archive(tmp_path) -> bytes:
    source = tmp_path / "source"
    write_batch(source / "train", random_images(3, 32, seed=5), [1, 2, 3], "fine_labels")
    write_batch(source / "test", random_images(1, 32, seed=6), [4], "fine_labels")
    return fake_archive("cifar-100-python", {name: (source / name).read_bytes()
                                             for name in ("train", "test")})


def test_download_checks_the_checksum_and_extracts(tmp_path, monkeypatch):
    """An archive with the expected MD5 is saved, extracted and read; a second load reads the
    extracted files without downloading again."""
    archive = cifar100_archive(tmp_path)
    layout = cifar.LAYOUTS["cifar100"]
    monkeypatch.setitem(cifar.LAYOUTS, "cifar100", attrs.evolve(
        layout, archive=attrs.evolve(layout.archive, md5=hashlib.md5(archive).hexdigest())))
    requested = []
    monkeypatch.setattr(download, "urlopen",
                        lambda url, timeout: requested.append(url) or FakeResponse(archive))
    data = load_dataset("cifar100", tmp_path / "data")
    assert data.train_labels.tolist() == [1, 2, 3] and data.test_labels.tolist() == [4]
    assert requested == [layout.archive.url]
    assert (tmp_path / "data" / "cifar-100-python.tar.gz").read_bytes() == archive
    load_dataset("cifar100", tmp_path / "data")
    assert len(requested) == 1


def test_corrupt_download_is_rejected(tmp_path, monkeypatch):
    """A download whose MD5 differs from the canonical one is an error and is not kept."""
    monkeypatch.setattr(download, "urlopen", lambda url, timeout: FakeResponse(b"truncated"))
    with pytest.raises(NasError, match="corrupt: MD5 .* expected eb9058c3a382ffc7106e4002c42a8d85"):
        load_dataset("cifar100", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_http_errors_are_download_failures(tmp_path, monkeypatch):
    """A server answering 404 gets the same clear message as being offline."""
    def not_found(url, timeout):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
    monkeypatch.setattr(download, "urlopen", not_found)
    with pytest.raises(NasError, match="cannot download CIFAR-100 .*Not Found"):
        load_dataset("cifar100", tmp_path)


class CutOff(FakeResponse):
    def read(self, size=-1):
        if self.tell():
            raise TimeoutError("the read operation timed out")
        return super().read(5)


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    """A connection lost midway is a download failure, and the half-written file is removed."""
    monkeypatch.setattr(download, "urlopen", lambda url, timeout: CutOff(b"0123456789"))
    with pytest.raises(NasError, match="cannot download CIFAR-10 .*timed out"):
        load_dataset("cifar10", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_subset_of_cifar_keeps_matching_images_and_labels(tmp_path):
    """A subset picks images and their labels together: each kept image is the original one
    with its original label."""
    _, train, _ = fake_cifar10(tmp_path, per_batch=10)
    data = load_dataset("cifar10", tmp_path, subset=15, seed=3)
    assert len(data.train_labels) == 15 and len(data.test_labels) == 2
    originals = {bytes(image.tobytes()): j % 10 for j, image in enumerate(train)}
    for image, label in zip(data.train_images.numpy(), data.train_labels.tolist()):
        assert originals[image.tobytes()] == label
    assert np.unique(data.train_images.numpy().reshape(15, -1), axis=0).shape[0] == 15


def test_cifar_as_an_image_folder(tmp_path):
    """--dataset cifar10 with --data-dir holding train/<class>/ and test/<class>/ image files
    (a JPEG export of CIFAR-10) reads them as CIFAR-10, with its normalization constants."""
    from PIL import Image

    from nasdsl.data.load import load_dataset
    for split in ("train", "test"):
        for label in range(10):
            folder = tmp_path / split / f"class{label}"
            folder.mkdir(parents=True)
            Image.new("RGB", (32, 32), (label * 20, 0, 0)).save(folder / "0.png")
    data = load_dataset("cifar10", tmp_path)
    assert data.classes == 10 and data.image_shape == (3, 32, 32)
    assert data.mean == (0.4914, 0.4822, 0.4465)
    assert data.train_labels.tolist() == list(range(10))
