"""Run directories: what a search writes, and the rules that keep a user's results safe.

A run directory holds `config.json` (the configuration, written once), `log.jsonl` (a line
per finished epoch), `checkpoint.pt` (the state after the last finished epoch, with what
made it: the configuration, a digest of the space's text and nasdsl's version), and at the
end `result.json` and `derived.nas`; every file is written atomically (`nasdsl.files`).

The rules, which the README states:
- A run directory is created once. `--out` a directory that is not empty and is not a run of
  the same configuration is refused, naming what differs, unless `--overwrite` is given
  (then the run files of the old run are removed first).
- A run holds a lock on its directory (`.lock`, with its process id and host) while it runs;
  a second run of the same directory is refused. A lock left by a process that is no longer
  running is reported, and `--break-lock` clears it.
- `--resume` continues a run with the settings it was started with: a setting given again
  with another value is an error. It does not extend `--epochs` (the cosine schedule would
  not be the one the run started with); a longer search is a new run.
- A run that fails before its first epoch finished leaves nothing behind; the temporaries of
  a write that a kill interrupted are removed when the directory is next taken.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path

import attrs
import torch

from nasdsl import __version__
from nasdsl.errors import NasError
from nasdsl.files import temporaries, write_atomically, write_json, write_text
from nasdsl.search.config import SearchConfig, flag, options

CONFIG, LOG, CHECKPOINT, RESULT, DERIVED, LOCK = ("config.json", "log.jsonl", "checkpoint.pt",
                                                  "result.json", "derived.nas", ".lock")
RUN_FILES = (CONFIG, LOG, CHECKPOINT, RESULT, DERIVED)
PLOTS = "plot-*.png"  # the plots drawn at the end (nasdsl.plots), named by what they show

# --- configuration ------------------------------------------------------------------------------

def config_to_json(config) -> dict:
    return attrs.asdict(config, recurse=True)


# Settings of earlier versions that are method options now, by their options' names; and the
# state-dict prefixes under which supernets held architecture parameters before methods
# declared them.
RETIRED_SETTINGS = {"second_order": "second-order", "beta_decay_max": "beta-decay",
                    "tau_max": "tau-max", "tau_min": "tau-min", "partial_k": "partial-k",
                    "arch_warmup": "arch-warmup"}
OLDER_ARCHITECTURE_KEYS = ("arch", "edge_arch", "node_arch", "set_arch")


def config_from_json(fields, where: str, cls: type = SearchConfig):
    """A configuration of class `cls` from its JSON form, or a NasError saying what is wrong
    with it."""
    if not isinstance(fields, dict):
        raise NasError(f"{where} is not a run configuration: it holds a JSON "
                       f"{type(fields).__name__}, not an object")
    known = {field.name: field for field in attrs.fields(cls)}
    unknown = sorted(set(fields) - set(known))
    retired = [name for name in unknown if name in RETIRED_SETTINGS]
    if retired:
        raise NasError(f"{where} comes from an older layout of nasdsl's runs, in which "
                       f"{', '.join(retired)} were search settings; they are options of their "
                       "methods now, and its checkpoint holds the supernet's older parameter "
                       "names", hint="start a new run: " + ", ".join(
                           f"--{RETIRED_SETTINGS[name]}" for name in retired) + " still set them")
    if unknown:
        raise NasError(f"{where} has the unknown setting '{unknown[0]}'",
                       hint="it was written by another version of nasdsl, or edited")
    missing = sorted(name for name, field in known.items()
                     if field.default is attrs.NOTHING and name not in fields)
    if missing:
        raise NasError(f"{where} lacks the setting '{missing[0]}'")
    fields = dict(fields)
    try:
        # JSON has no tuples: the fields that hold them get them back.
        for name in ("overrides", "method_options"):
            if name in known:
                fields[name] = tuple(tuple(pair) for pair in fields.get(name, ()))
        if "arch_betas" in known:
            fields["arch_betas"] = tuple(fields.get("arch_betas", known["arch_betas"].default))
        return cls(**fields)
    except NasError as error:
        raise NasError(f"{where}: {error.message}", hint=error.hint) from None
    except (TypeError, ValueError) as error:
        raise NasError(f"{where} is not a run configuration: {error}") from None


def read_config(run_dir: Path, cls: type = SearchConfig):
    """The configuration (of class `cls`) a run directory holds."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise NasError(f"{run_dir} is not a run directory: it has no {CONFIG}",
                       hint="--resume takes a directory that nasdsl wrote")
    try:
        fields = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise NasError(f"{path} is not valid JSON ({error}): it was cut short or edited",
                       hint="a run directory's files are written whole; was it copied "
                            "while a run wrote it?") from None
    return config_from_json(fields, str(path), cls)


def differences(recorded, given: dict) -> list[str]:
    """The settings of `given` (field name -> value) that differ from `recorded`, as text."""
    shown = []
    for name, value in given.items():
        if getattr(recorded, name) != value:
            field = next((f for f in options(type(recorded)) if f.name == name), None)
            label = flag(field) if field is not None else name
            shown.append(f"{label} {getattr(recorded, name)!r} there, {value!r} here")
    return shown


# --- log and checkpoint ---------------------------------------------------------------------------

def write_log(run_dir: Path, entries: list[dict]) -> None:
    write_text(Path(run_dir) / LOG, "".join(json.dumps(e, sort_keys=True) + "\n"
                                             for e in entries))


def read_log(run_dir: Path) -> list[dict]:
    path = Path(run_dir) / LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def made_by(config, space_digest: str) -> dict:
    """What a checkpoint records of what made it."""
    return {"config": config_to_json(config), "space": space_digest, "nasdsl": __version__}


def random_state(device: torch.device) -> dict:
    """The generators' states a checkpoint keeps: the CPU's, and the device's where random
    draws happen on a GPU too."""
    return {"rng": torch.get_rng_state(),
            **({"cuda_rng": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {})}


def restore_random_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["rng"])
    if "cuda_rng" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda_rng"], device)


def save_checkpoint(run_dir: Path, state: dict) -> None:
    write_atomically(Path(run_dir) / CHECKPOINT, lambda file: torch.save(state, file))


def load_checkpoint(run_dir: Path, expected: dict) -> dict | None:
    """The checkpoint's state, None where there is none; a NasError when it cannot be read
    or was made by another configuration, space or version (`expected`: `made_by`)."""
    path = Path(run_dir) / CHECKPOINT
    if not path.exists():
        return None
    try:
        log = read_log(run_dir)
        last = f"its log records epochs 0..{log[-1]['epoch']}" if log else "no epoch is logged"
    except (ValueError, KeyError, TypeError):
        last = f"its {LOG} cannot be read either"
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch reports a bad file by many exception types
        reason = str(error).split(". ")[0].split("\n")[0]
        raise NasError(f"{path} cannot be read ({type(error).__name__}: {reason}); it is "
                       f"corrupt or cut short, and {last}",
                       hint="no earlier state is kept: start the search again with a new "
                            "--out (or --overwrite)") from None
    if not isinstance(state, dict) or "made_by" not in state:
        raise NasError(f"{path} was written by an older nasdsl, which did not record what "
                       "made a checkpoint, or is not a checkpoint: it cannot be checked",
                       hint="start the search again with a new --out (or --overwrite)")
    older = sorted({key.split(".")[0] for key in state.get("net", {})
                    if key.split(".")[0] in OLDER_ARCHITECTURE_KEYS})
    if older:
        raise NasError(f"{path} comes from an older layout of nasdsl's supernets: its "
                       f"architecture parameters are stored as {', '.join(older)}, not as the "
                       "parameters a method declares", hint="start the search again with a new "
                                                           "--out (or --overwrite)")
    recorded = state["made_by"]
    if recorded.get("nasdsl") != expected["nasdsl"]:
        raise NasError(f"{path} was written by nasdsl {recorded.get('nasdsl')}, this is "
                       f"nasdsl {expected['nasdsl']}",
                       hint=f"resume it with nasdsl {recorded.get('nasdsl')}")
    if recorded.get("config") != expected["config"]:
        changed = sorted(name for name in set(recorded["config"]) | set(expected["config"])
                         if recorded["config"].get(name) != expected["config"].get(name))
        raise NasError(f"{path} was made by another configuration: "
                       + ", ".join(f"{name} {recorded['config'].get(name)!r} there, "
                                   f"{expected['config'].get(name)!r} here" for name in changed))
    if recorded.get("space") != expected["space"]:
        raise NasError(f"the space {expected['config']['space']} has changed since {path} was "
                       "written", hint="resume with the space as it was, or start a new run")
    return state


# --- the directory ----------------------------------------------------------------------------

class RunDirectory:
    """A run directory taken by one run: made ready (refused where a user's files would be
    lost or mixed), locked, and on `release` unlocked, and removed again if the run left no
    finished epoch in a directory it created."""

    def __init__(self, path: Path, created: bool, wrote_config: bool):
        self.path = path
        self.created = created
        self.wrote_config = wrote_config

    @classmethod
    def for_new_run(cls, path: Path, config, *, overwrite: bool = False,
                    break_lock: bool = False, run_files: tuple[str, ...] = ()) -> RunDirectory:
        """`path` ready for a run of `config` (a search's or a training's configuration):
        new or empty, a run of this very configuration (which then continues), or, with
        `overwrite`, cleared of an old run's files. `run_files`: the files the method writes
        there too."""
        path = Path(path)
        _check_writable(path)
        existing = path.is_dir() and any(path.iterdir())
        if existing and (path / CONFIG).exists():
            recorded = read_config(path, type(config)) if not overwrite else None
            if recorded is not None and recorded != config:
                changed = differences(recorded, {f.name: getattr(config, f.name)
                                                 for f in attrs.fields(type(config))})
                raise NasError(f"{path} holds a run of another configuration ("
                               + "; ".join(changed) + ")",
                               hint=f"--resume {path} continues that run, a new --out starts "
                                    "another, --overwrite replaces it")
        elif existing and not overwrite:
            raise NasError(f"{path} is not empty and is not a run directory",
                           hint="choose a new or empty --out, or --overwrite to write the run "
                                "there (files of other names are left alone)")
        created = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise NasError(f"--out {path} cannot be made: {error.strerror or error}",
                           hint="choose another --out") from None
        _lock(path, break_lock)
        try:
            if overwrite:
                for name in (*RUN_FILES, *run_files):
                    (path / name).unlink(missing_ok=True)
                for plot in path.glob(PLOTS):
                    plot.unlink()
            _remove_temporaries(path, (*RUN_FILES, *run_files, PLOTS))
            wrote = not (path / CONFIG).exists()
            if wrote:
                write_json(path / CONFIG, config_to_json(config))
        except BaseException:
            _unlock(path)
            raise
        return cls(path, created, wrote)

    @classmethod
    def for_resume(cls, path: Path, given: dict, *, break_lock: bool = False,
                   run_files: tuple[str, ...] = (), kind: type = SearchConfig
                   ) -> tuple[RunDirectory, object]:
        """The run at `path` and its configuration (of class `kind`); a setting in `given`
        (field name -> value, from the command line) with another value than the run's is
        an error."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise NasError(f"--resume {path}: not a directory")
        config = read_config(path, kind)
        changed = differences(config, given)
        if changed:
            raise NasError(f"--resume {path} continues the run with its own settings, and "
                           "these differ: " + "; ".join(changed),
                           hint="leave them out to resume, or start a new run with a new --out")
        _check_writable(path)
        _lock(path, break_lock)
        _remove_temporaries(path, (*RUN_FILES, *run_files, PLOTS))
        return cls(path, False, False), config

    def release(self) -> None:
        """Unlock; where no epoch finished, remove what this run made (the directory itself
        if it made it and nothing else is there)."""
        try:
            if not (self.path / CHECKPOINT).exists():
                if self.wrote_config:
                    (self.path / CONFIG).unlink(missing_ok=True)
        finally:
            _unlock(self.path)
        if self.created and not any(self.path.iterdir()):
            self.path.rmdir()


def _check_writable(path: Path) -> None:
    """A NasError before any work where `path` cannot be a directory this user writes."""
    if path.exists() and not path.is_dir():
        raise NasError(f"--out {path} is a file, not a directory",
                       hint="choose another --out")
    ancestor = path
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NasError(f"--out {path} cannot be made: {ancestor} is a file")
    if not _can_write_in(ancestor):
        raise NasError(f"--out {path} cannot be written: {ancestor} is not writable by this "
                       "user", hint="choose another --out")


def check_output_file(path: Path, option: str) -> None:
    """A NasError before any work where a file (bench's --json, --csv) cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise NasError(f"{option} {path} is a directory, not a file")
    if not path.parent.is_dir():
        raise NasError(f"{option} {path}: the directory {path.parent} does not exist")
    if not _can_write_in(path.parent) or (path.exists() and not os.access(path, os.W_OK)):
        raise NasError(f"{option} {path} cannot be written by this user")


def _can_write_in(directory: Path) -> bool:
    """Whether a file can be made in `directory`: tried, since permissions alone do not say
    (a superuser, a read-only or virtual file system)."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".nasdsl-probe."):
            return True
    except OSError:
        return False


def _lock(path: Path, break_lock: bool) -> None:
    """Take `path/.lock` for this process, or a NasError saying who holds it."""
    lock = path / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname()}
    for _ in range(2):
        try:
            descriptor = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            holder = _holder(lock)
            alive = holder.get("host") == me["host"] and _running(holder.get("pid"))
            who = f"process {holder.get('pid')} on {holder.get('host')}"
            if alive:
                raise NasError(f"another run ({who}) is using {path}",
                               hint="wait for it to end, or choose another --out") from None
            if not break_lock:
                state = "which is no longer running" if holder.get("host") == me["host"] \
                    else "on another machine"
                raise NasError(f"{path} is locked by {who}, {state}",
                               hint="if no run uses the directory, --break-lock clears the "
                                    "lock") from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(descriptor, "w") as file:
            json.dump(me, file)
        return
    raise NasError(f"{path}: the lock could not be taken")


def _holder(lock: Path) -> dict:
    try:
        holder = json.loads(lock.read_text())
        return holder if isinstance(holder, dict) else {}
    except (OSError, ValueError):
        return {}


def _running(pid) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _unlock(path: Path) -> None:
    lock = path / LOCK
    if _holder(lock).get("pid") == os.getpid():
        lock.unlink(missing_ok=True)


def _remove_temporaries(path: Path, names) -> None:
    for name in names:
        for leftover in temporaries(path, name):
            leftover.unlink(missing_ok=True)
