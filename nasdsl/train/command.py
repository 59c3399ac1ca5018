"""`nasdsl train`: arguments to a configuration, `--dry-run`'s figures, the training, the
report."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from nasdsl.arguments import add_set
from nasdsl.errors import NasError
from nasdsl.plots import plot_run, report
from nasdsl.search.command import (add_run_directory_options, add_settings, given_settings,
                                   in_run_directory, parse_override)
from nasdsl.search.run_dir import RunDirectory
from nasdsl.train.architecture import ARCH_HINT
from nasdsl.train.config import TrainConfig, resolve
from nasdsl.train.loop import Training, build_network, parameter_counts


def add_arguments(parser) -> None:
    parser.add_argument("arch", metavar="ARCH", nargs="?",
                        help=ARCH_HINT + " (not needed with --resume)")
    add_settings(parser, TrainConfig)
    add_set(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="build the network, print its parameters (with and without the "
                             "auxiliary head) and FLOPs at the preset's input, and exit")
    add_run_directory_options(parser)
    parser.set_defaults(command=train_command)


def config_from_args(args) -> TrainConfig:
    if args.arch is None:
        raise NasError("nasdsl train needs an architecture", hint=ARCH_HINT)
    return resolve(TrainConfig(arch=args.arch, overrides=tuple(
        parse_override(item) for item in args.set), **given_settings(args, TrainConfig)))


def train_command(args) -> int:
    if args.dry_run:
        print(dry_run(config_from_args(args)))
        return 0
    return in_run_directory(args, _take_run_directory, _train)


def _train(args, config: TrainConfig, path: Path, world) -> None:
    result = Training(config, path, progress=not args.no_progress, world=world).run()
    if world.main:  # while the run directory is still this run's
        print(summary(result))
        report(plot_run(result.run_dir))


def _take_run_directory(args) -> tuple[RunDirectory, TrainConfig]:
    if args.resume:
        if args.out is not None or args.overwrite:
            raise NasError("--resume continues a run in its own directory",
                           hint="leave out --out and --overwrite")
        given = given_settings(args, TrainConfig)
        if args.arch is not None:
            given["arch"] = args.arch
        if args.set:
            given["overrides"] = tuple(parse_override(item) for item in args.set)
        return RunDirectory.for_resume(Path(args.resume), given, break_lock=args.break_lock,
                                       kind=TrainConfig)
    config = config_from_args(args)
    name = f"train-{config.preset}-{time.strftime('%Y%m%d-%H%M%S')}"
    return RunDirectory.for_new_run(Path(args.out or Path("runs") / name), config,
                                    overwrite=args.overwrite, break_lock=args.break_lock), config


def dry_run(config: TrainConfig) -> str:
    """The network's parameters, with and without the auxiliary head, and the FLOPs of one
    image's forward at the network's input (the preset's: no data is read)."""
    built = build_network(config)
    net, network = built.net, built.space.network
    counts = parameter_counts(net)
    space_input = (network.input_channels, network.input_size, network.input_size)
    counter = FlopCounterMode(display=False)
    net.eval()
    with counter, torch.no_grad():
        net(torch.zeros(1, *space_input))
    flops = counter.get_total_flops()
    auxiliary = (f" ({counts['with_auxiliary']:,} with the auxiliary head)"
                 if net.auxiliary is not None else " (no auxiliary head)")
    return (f"{config.arch if len(config.arch) < 70 else config.arch[:67] + '...'} under "
            f"preset {config.preset}\n"
            f"  parameters: {counts['without_auxiliary']:,}{auxiliary}\n"
            f"  forward of one {'x'.join(map(str, space_input))} image: {flops / 1e6:,.1f} "
            f"MFLOP ({flops / 2e6:,.1f} M multiply-adds)")


def summary(result) -> str:
    lines = [f"{'epoch':>5} {'train loss':>10} {'train acc':>9} {'test acc':>9} {'seconds':>8}"]
    for entry in result.log:
        lines.append(f"{entry['epoch']:>5} {entry['train_loss']:>10.4f} "
                     f"{100 * entry['train_acc']:>8.2f}% {100 * entry['test_acc']:>8.2f}% "
                     f"{entry['seconds']:>8.1f}")
    lines += ["", f"test accuracy: {100 * result.test_acc:.2f}% (best "
                  f"{100 * result.best_test_acc:.2f}%)", f"run directory: {result.run_dir}"]
    return "\n".join(lines)
