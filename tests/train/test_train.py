"""`nasdsl train`: a derived architecture trained from scratch under a preset, in a run
directory with the search's rules (checkpoint, resume to the same result, non-finite
stop), and `--dry-run`'s figures."""

import json

import pytest
import torch

from nasdsl.cli import main
from nasdsl.data.augment import Augment
from nasdsl.data.batches import Batches
from nasdsl.data.images import build
from nasdsl.train.config import TrainConfig, resolve
from nasdsl.train.loop import NonFiniteTraining, Training
from nasdsl.train.presets import PRESETS

NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
TINY = dict(preset="nb201", dataset="digits", subset=256, epochs=3, batch=32,
            overrides=(("C", 4), ("N", 1)))


def test_presets_hold_the_published_values():
    """darts-cifar is DARTS's protocol (C=36, 20 cells, 600 epochs of 96, SGD 0.025 cosine,
    weight decay 3e-4, cutout 16, drop path 0.2, auxiliary weight 0.4, clip 5); an unset
    setting takes its preset's value and a given one stays."""
    darts = resolve(TrainConfig(arch="x"))
    assert (darts.epochs, darts.batch, darts.lr, darts.schedule, darts.weight_decay,
            darts.cutout, darts.drop_path, darts.auxiliary_weight, darts.grad_clip) == \
        (600, 96, 0.025, "cosine", 3e-4, 16, 0.2, 0.4, 5.0)
    assert dict(PRESETS["darts-cifar"].overrides) == {"C": 36, "N": 6}
    assert resolve(TrainConfig(arch="x", epochs=1, preset="nb201")).epochs == 1
    mobile = resolve(TrainConfig(arch="x", preset="imagenet-mobile"))
    assert (mobile.schedule, mobile.lr_decay, mobile.label_smoothing) == ("exponential", 0.97, 0.1)


def test_cutout_zeroes_a_square_and_leaves_the_rest():
    """With cutout the batches are those without it except for one zeroed square per image,
    at most length x length, clipped at the border."""
    images = torch.randint(1, 255, (8, 1, 12, 12), dtype=torch.uint8)
    data = build("toy", (images, torch.zeros(8)), (images, torch.zeros(8)), 1,
                 stats=((0.0,), (1.0,)))
    plain = Batches.training(data, torch.arange(8), 8, 0, augment=Augment(2, True))
    cut = Batches.training(data, torch.arange(8), 8, 0, augment=Augment(2, True, cutout=4))
    (a, _), (b, _) = next(plain.epoch(0)), next(cut.epoch(0))
    differs = a != b
    assert differs.any()
    assert torch.all(b[differs] == 0)
    assert differs.flatten(1).sum(1).max() <= 16


def test_a_tiny_training_learns_and_writes_its_run(tmp_path):
    """Three epochs on the digits: the log has each epoch's losses and test accuracy,
    result.json the final and best test accuracy and the parameter counts, and the network
    learns (test accuracy above chance)."""
    result = Training(resolve(TrainConfig(arch=NB201_ARCH, **TINY)), tmp_path / "run",
                      progress=False).run()
    assert [entry["epoch"] for entry in result.log] == [0, 1, 2]
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["test_acc"] == result.test_acc and saved["best_test_acc"] >= result.test_acc
    assert saved["parameters"]["without_auxiliary"] > 0
    assert result.best_test_acc > 0.2


def test_resume_ends_as_the_uninterrupted_run(tmp_path):
    """A run stopped after its first epoch and resumed (drop path and cutout on) logs the
    same losses and accuracies as one that ran through."""
    config = resolve(TrainConfig(arch=NB201_ARCH, **TINY, cutout=4, drop_path=0.3,
                                 auxiliary_weight=0.0))
    through = Training(config, tmp_path / "a", progress=False).run()
    Training(config, tmp_path / "b", progress=False).run(stop_after=0)
    resumed = Training(config, tmp_path / "b", progress=False).run()
    strip = [{k: v for k, v in entry.items() if k != "seconds"} for entry in through.log]
    assert [{k: v for k, v in entry.items() if k != "seconds"} for entry in resumed.log] == strip


def test_a_diverging_training_stops_and_keeps_its_last_checkpoint(tmp_path):
    """A weight that turns non-finite in the second epoch stops the run with a NasError
    naming it; the checkpoint of the first epoch stays as it was."""
    config = resolve(TrainConfig(arch=NB201_ARCH, **{**TINY, "epochs": 2}))
    Training(config, tmp_path / "run", progress=False).run(stop_after=0)
    before = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    training = Training(config, tmp_path / "run", progress=False)
    train_epoch = training._train_epoch

    def poisoned(epoch):
        figures = train_epoch(epoch)
        next(training.net.parameters()).data.fill_(float("nan"))
        return figures

    training._train_epoch = poisoned
    with pytest.raises(NonFiniteTraining, match="became non-finite in epoch 1"):
        training.run()
    assert (tmp_path / "run" / "checkpoint.pt").read_bytes() == before


def test_a_wild_learning_rate_stops_with_a_hint(tmp_path):
    """A learning rate that makes the loss non-finite stops the run with a NasError that
    names the step sizes, and nothing is kept when no epoch finished."""
    config = resolve(TrainConfig(arch=NB201_ARCH, **TINY, lr=1e12, grad_clip=0.0))
    with pytest.raises(NonFiniteTraining) as error:
        Training(config, tmp_path / "run", progress=False).run()
    assert "nothing is kept" in error.value.message and "--lr" in error.value.hint


def test_dry_run_prints_parameters_and_flops(capsys):
    """`--dry-run` on an NB201 arch string under the nb201 preset prints the network's
    parameters and its forward FLOPs and writes nothing."""
    assert main(["train", NB201_ARCH, "--preset", "nb201", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "parameters: " in out and "(no auxiliary head)" in out and "MFLOP" in out


def test_an_unknown_architecture_is_a_clear_error(capsys):
    """ARCH that is neither a file, a run directory nor an arch string: exit 2, a hint."""
    assert main(["train", "resnet50", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "cannot tell what architecture" in err and "Traceback" not in err


def test_training_resumes_from_the_command_line(tmp_path, capsys):
    """`nasdsl train --resume RUN_DIR` continues a stopped run with its recorded settings
    and draws its curves at the end; a setting given with another value is refused."""
    config = resolve(TrainConfig(arch=NB201_ARCH, **{**TINY, "epochs": 2}))
    Training(config, tmp_path / "run", progress=False).run(stop_after=0)
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "5"]) == 2
    assert "these differ" in capsys.readouterr().err
    assert main(["train", "--resume", str(tmp_path / "run"), "--no-progress"]) == 0
    assert "test accuracy:" in capsys.readouterr().out
    assert (tmp_path / "run" / "plot-curves.png").stat().st_size > 10_000


@pytest.mark.parametrize("arch, preset, counts", [
    ("DARTS_V2", "darts-cifar", "3,349,342 (3,825,768 with the auxiliary head)"),
    ("nasnet", "darts-cifar", "3,830,950 (4,288,944 with the auxiliary head)"),
    ("DARTS_V2", "imagenet-mobile", "4,718,752 (5,979,528 with the auxiliary head)"),
])
def test_dry_run_of_published_cells_gives_the_reference_counts(capsys, arch, preset, counts):
    """A published cell by name builds under DARTS's CIFAR and ImageNet presets with the
    reference code's parameter counts, the ImageNet one at 224x224."""
    assert main(["train", arch, "--preset", preset, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"parameters: {counts}" in out
    assert ("3x224x224" in out) == (preset == "imagenet-mobile")


def test_a_genotype_string_trains_as_its_published_cell(capsys):
    """DARTS_V2 written out as a genotype string builds the network its name does."""
    from nasdsl.architecture.published import published_genotype
    assert main(["train", published_genotype("DARTS_V2"), "--dry-run"]) == 0
    assert "parameters: 3,349,342 (3,825,768" in capsys.readouterr().out
