"""The ``deeploc-keras`` command line: one click group, thin commands.

Each command parses its options, calls one library function with the same names
and defaults, and prints a short summary. Bad input becomes one line on stderr
and exit code 2 (set ``DEEPLOC_KERAS_DEBUG=1`` to see the traceback); any other
exception is a bug, printed as "internal error" with its traceback, exit code 1.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import click
from click.core import ParameterSource

from ._version import __version__
from .core.console import filter_native_stderr, set_verbosity, stderr_is_terminal, verbosity
from .core.errors import MAX_SEED
from .core.outputs import check_output
from .core.ownership import check_not_an_input
from .data.importers import COMPRESSIONS, IMPORT_FORMATS
from .data.pipeline import SPLIT_CHOICES
from .data.store import CellStore
from .models.convert import CHECKPOINT_SOURCES
from .models.presets import PRESET_NAMES, TTA_MODES
from .study.ladder import REFERENCES_DIR, score_with_references
from .study.reproduce import REPRODUCE_PRESET_NAMES
from .training.config import MIXED_PRECISION_CHOICES, TrainConfig
from .training.methods import METHOD_NAMES, METHODS, PCI_DEFAULTS, TRAINABLE_METHODS

__all__ = ["main"]

#: Every seed option: numpy, TensorFlow and Keras take seeds in [0, 2**32 - 1].
_SEED = click.IntRange(0, MAX_SEED)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it unwinds (and cleans up) like Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()


def _user_error_line(exc: BaseException) -> str | None:
    """The one line for an error the user can fix, or None for a bug."""
    from .core.errors import DeeplocKerasError, os_error_message, user_error_behind, write_problem

    if isinstance(exc, DeeplocKerasError):
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    cause = user_error_behind(exc)
    if cause is not None:
        return _user_error_line(cause)
    if isinstance(exc, OSError):
        return os_error_message(exc) or write_problem(exc)
    return None


def _interrupted_line(exc: KeyboardInterrupt) -> str:
    from .core.outputs import kept_notes

    what = "Terminated" if isinstance(exc, _Terminated) else "Interrupted"
    kept = kept_notes()
    return f"{what}; temporary files were removed" + (f"; kept {', '.join(kept)}." if kept else
                                                       "; no partial output was kept.")


@contextlib.contextmanager
def _workers_end_with_this_process() -> Iterator[None]:
    """joblib's worker processes (scoring's) exit when this process dies, even by SIGKILL, and ignore Ctrl-C."""
    import joblib

    from .core.lifetime import exit_with_parent

    with joblib.parallel_config(backend="loky", initializer=exit_with_parent, initargs=(os.getpid(),)):
        yield


def _quiet_broken_pipe() -> None:
    """The reader of stdout went away (``| head``): stop quietly, as other command-line tools do."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class _Group(click.Group):
    """A click group that reports user errors in one line (exit 2) and bugs with a traceback (exit 1).

    User errors are the package's :class:`~deeploc_keras.core.errors.DeeplocKerasError`
    and operating-system errors about a file; SIGTERM unwinds like Ctrl-C
    (temporary files removed, exit 143).
    """

    def invoke(self, ctx: click.Context):
        import signal
        import threading
        import traceback

        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()
            return result
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            _quiet_broken_pipe()
            ctx.exit(141)
        except KeyboardInterrupt as exc:
            click.echo(_interrupted_line(exc), err=True)
            ctx.exit(143 if isinstance(exc, _Terminated) else 130)
        except Exception as exc:
            if os.environ.get("DEEPLOC_KERAS_DEBUG"):
                raise
            line = _user_error_line(exc)
            if line is not None:
                click.echo(f"Error: {_cli_spelling(line, self._invoked_options(ctx))}", err=True)
                ctx.exit(2)
            click.echo("deeploc-keras: internal error (a bug; please report it with this traceback):", err=True)
            click.echo("".join(traceback.format_exception(exc)).rstrip(), err=True)
            ctx.exit(1)
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, previous)

    def _invoked_options(self, ctx: click.Context) -> dict[str, click.Option]:
        """The options of the command that ran (of every command of a group that ran), by parameter name."""
        command = self.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
        commands = list(command.commands.values()) if isinstance(command, click.Group) else [command]
        return {p.name: p for c in commands if c is not None for p in c.params if isinstance(p, click.Option)}


#: ``name='value'``, ``name=3`` or ``name=True`` in a library message.
_PYTHON_KEYWORD = re.compile(r"\b([a-z_][a-z0-9_]*)=(?:'([^']*)'|(-?\d[\w.+-]*|True|False)\b)")


def _cli_spelling(line: str, options: dict[str, click.Option]) -> str:
    """A library message in the command line's spelling: ``tta='center'`` becomes ``--tta center``.

    Only the names of the command's own options are rewritten; other text stays as it is.

    Examples
    --------
    >>> tta = click.Option(["--tta"])
    >>> _cli_spelling("tta='5crop' needs a crop; use tta='center'. Received: seed=3", {"tta": tta})
    '--tta 5crop needs a crop; use --tta center. Received: seed=3'
    """
    def spell(match: re.Match) -> str:
        option = options.get(match.group(1))
        if option is None:
            return match.group(0)
        flag = max(option.opts, key=len)
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if option.is_flag:
            return flag if value == "True" else match.group(0)
        return f"{flag} {value}"

    return _PYTHON_KEYWORD.sub(spell, line)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int | bool) -> None:
    """Callback of -v/-q, before or after the subcommand: the counts add up over both places."""
    if not value or ctx.resilient_parsing:
        return
    root = ctx.find_root()
    root.meta["deeploc_keras.verbosity"] = root.meta.get("deeploc_keras.verbosity", 0) + (
        int(value) if param.name == "verbose" else -1)
    set_verbosity(root.meta["deeploc_keras.verbosity"])


def _verbosity_options() -> list[click.Option]:
    return [
        click.Option(["-v", "--verbose"], count=True, expose_value=False, callback=_set_verbosity, is_eager=True,
                     help="More output: -v INFO log lines, -vv DEBUG and TensorFlow's own log lines."),
        click.Option(["-q", "--quiet"], is_flag=True, expose_value=False, callback=_set_verbosity, is_eager=True,
                     help="Errors only: no progress bars, no warnings."),
    ]


class _Command(click.Command):
    """A command that also accepts -v/-q after its name (``deeploc-keras train -v ...``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_verbosity_options())


_Group.command_class = _Command
_Group.group_class = type


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
             params=_verbosity_options())
@click.version_option(__version__, prog_name="deeploc-keras")
def main() -> None:
    """DeepLoc in Keras: train, embed, profile and score yeast protein localization.

    Default output: one progress bar per long step (on a terminal) and a short summary;
    -q errors only; -v / -vv more (before or after the command name).
    """
    ctx = click.get_current_context()
    if "deeploc_keras.verbosity" not in ctx.meta:
        set_verbosity(0)
    if _real_console():
        filter_native_stderr()


def _real_console() -> bool:
    """Running as the console script (not inside CliRunner or another host that replaced stderr)."""
    return sys.stderr is sys.__stderr__ and sys.stderr is not None


class _LazyChoice(click.Choice):
    """A ``click.Choice`` whose choices are a constant imported on first use (keeps ``--help`` fast)."""

    def __init__(self, module: str, name: str) -> None:
        self._source = (module, name)
        super().__init__(())

    @property
    def choices(self):  # noqa: D401 - click reads this attribute
        import importlib

        return tuple(getattr(importlib.import_module(self._source[0]), self._source[1]))

    @choices.setter
    def choices(self, value) -> None:
        pass


def _split_list(ctx: click.Context, param: click.Parameter, value: tuple[str, ...] | str | None):
    """Lists everywhere: a repeatable option whose values may also be comma-separated (``--x a,b --x c``)."""
    if value is None:
        return None
    values = (value,) if isinstance(value, str) else value
    return tuple(item.strip() for v in values for item in str(v).split(",") if item.strip())


def _summary(text: str) -> None:
    """A command's closing summary on stdout (not with -q)."""
    if verbosity() >= 0:
        click.echo(text)


def _deprecated(old: str, new: str) -> None:
    if verbosity() < 0:
        return
    click.echo(f"Warning: DeprecationWarning: {old} is deprecated and will be removed in the next release; "
               f"use {new}", err=True)


def _out_or_positional(out: str | None, positional: str | None, *, command: str, what: str) -> str:
    """The output path from --out, or (deprecated) from the positional argument."""
    if out is not None and positional is not None:
        raise click.UsageError(f"give {what} once: --out {out} or the positional {positional}, not both")
    if out is None and positional is None:
        raise click.UsageError(f"missing --out {what}")
    if out is None:
        _deprecated(f"`{command} {what}` as a positional argument", f"--out {what}")
    return out if out is not None else positional


class _DeprecatedArgument(click.Argument):
    """A positional argument kept for old command lines, left out of the usage line."""

    def get_usage_pieces(self, ctx: click.Context) -> list[str]:
        return []


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@main.command("inspect")
@click.argument("store_path", metavar="STORE.h5", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def inspect_command(store_path: str, as_json: bool) -> None:
    """Summarise a cell store: cells, proteins, classes, splits, dtype and intensity ranges."""
    with CellStore.open(store_path) as store:
        summary = store.summary()
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"{summary['path']}: {summary['cells']} cells, {summary['proteins']} proteins, "
               f"{tuple(summary['image_shape'])} {summary['dtype']}, channels {', '.join(summary['channel_names'])}")
    if summary["unknown_protein_cells"]:
        click.echo(f"  cells with unknown protein: {summary['unknown_protein_cells']}")
    counts = summary["protein_counts"]
    if 0 < len(counts) <= 20:
        click.echo("  cells per protein: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    elif counts:
        values = sorted(counts.values())
        click.echo(f"  cells per protein: min {values[0]}, median {values[len(values) // 2]}, max {values[-1]}"
                   " (--json lists every protein)")
    click.echo("  splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items())
               + f" (by {summary['split_by']})")
    click.echo("  classes: " + (", ".join(f"{k} {v}" for k, v in summary["classes"].items()) or "none"))
    for name, rng in summary["channel_ranges"].items():
        click.echo(f"  {name}: min {rng['min']:.6g}, max {rng['max']:.6g}, mean {rng['mean']:.6g}"
                   f" (first {summary['channel_ranges_sampled_cells']} cells)")


@main.command("import", options_metavar="--out OUT.h5 --format FORMAT [OPTIONS]")
@click.argument("sources", metavar="SOURCE...", nargs=-1, required=True)
@click.option("--out", "out_option", type=click.Path(dir_okay=False), default=None, help="Cell store to write (OUT.h5).")
@click.option("--format", "format_", type=click.Choice(IMPORT_FORMATS), required=True, help="Input format.")
@click.option("--channels", multiple=True, callback=_split_list,
              help="Channel names; repeatable or comma-separated (default: file attrs, else GFP,RFP).")
@click.option("--class-names", multiple=True, callback=_split_list,
              help="Class names; repeatable or comma-separated (default: file attrs / labels / 19 Chong classes).")
@click.option("--metadata", type=click.Path(dir_okay=False),
              help="deeploc-hdf5: CSV with a 'protein' column (row order, or an 'index' [+ 'file'] column).")
@click.option("--split-from-filename", is_flag=True, help="deeploc-hdf5: split from the file name (train/valid/test).")
@click.option("--labels", type=click.Path(dir_okay=False),
              help="tiff-folders, fields, label-masks: CSV with columns 'protein' and 'label'.")
@click.option("--labels-from", type=_LazyChoice("deeploc_keras.data.importers", "LABEL_SOURCES"), default=None,
              help="tiff-folders, fields, label-masks: label each protein from a published table instead (huh2003: its one "
                   "Huh et al. 2003 location; proteins with several stay unlabelled).")
@click.option("--aliases", type=click.Path(dir_okay=False), default=None,
              help="With --labels-from: SGD_features.tab, so folders named by gene (ACT1) match.")
@click.option("--channel", "channel_patterns", multiple=True, metavar="NAME=PATTERN",
              help="tiff-folders, label-masks: the files of one channel, a pattern with one '*' (GFP=*_ch1.tif); "
                   "repeat per channel, in channel order [default: *_gfp.tif / *_rfp.tif pairs, else one "
                   "multi-channel TIFF per cell or field].")
@click.option("--gfp-suffix", default="_gfp.tif", help="tiff-folders: file name ending of the GFP channel.")
@click.option("--rfp-suffix", default="_rfp.tif", help="tiff-folders: file name ending of the RFP channel.")
@click.option("--layout", type=_LazyChoice("deeploc_keras.data.importers", "TIFF_LAYOUTS"),
              default="cells", help="tiff-folders: cells: one folder per protein, one file (per channel) per cell; "
                                    "stacks: one multi-page TIFF (per channel) per protein, named by the protein.")
@click.option("--crop-size", type=click.IntRange(min=1), default=None,
              help="tiff-folders: centre-crop larger and zero-pad smaller crops to NxN [default: keep the size]; "
                   "label-masks: side of the crops [default: 64].")
@click.option("--mask", "mask_pattern", default=None, metavar="PATTERN",
              help="label-masks: file name of each field's label mask, one '*' for the field's name "
                   "[default: *_cp_masks.tif, Cellpose's].")
@click.option("--image-dir", type=click.Path(file_okay=False), help="fields: folder of the field images "
              "[default: the table's folder].")
@click.option("--gfp-column", default="Image_FileName_GFP", help="fields: table column naming the GFP field.")
@click.option("--rfp-column", default="Image_FileName_RFP", help="fields: table column naming the RFP field.")
@click.option("--object", "object_name", help="fields: object prefix of <object>_Location_Center_X/Y.")
@click.option("--protein-column", default="protein", help="fields: table column with the protein id.")
@click.option("--pad", is_flag=True,
              help="fields, label-masks: zero-pad crops that leave the field instead of dropping them.")
@click.option("--drop-invalid", is_flag=True, help="Drop cells with NaN/inf pixels (counted) instead of refusing.")
@click.option("--seed", type=_SEED, default=0, help="Seed of the 80/10/10 split.")
@click.option("--split-by", type=_LazyChoice("deeploc_keras.data.store", "SPLIT_BY_CHOICES"), default="cell",
              help="cell: 80/10/10 of each protein's cells (the study; test = unseen cells of seen proteins); "
                   "protein: 80/10/10 of the proteins (test = proteins never seen in training).")
@click.option("--chunk-cells", type=click.IntRange(min=1), default=512, help="Cells per block and HDF5 chunk.")
@click.option("--compression", type=click.Choice(COMPRESSIONS), help="HDF5 filter for the images.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.h5.")
@click.pass_context
def import_command(ctx: click.Context, sources: tuple[str, ...], out_option: str | None, format_: str,
                   **options: object) -> None:
    """Import cells (DeepLoc HDF5, TIFF crops or stacks, fields + centres or label masks) into a store --out OUT.h5."""
    from .data.importers import import_cells

    if out_option is None and len(sources) < 2:
        raise click.UsageError("missing --out OUT.h5")
    out = _out_or_positional(out_option, None if out_option is not None else sources[-1], command="import",
                             what="OUT.h5")
    sources = sources if out_option is not None else sources[:-1]
    check_not_an_input(out, sources, command="import")
    given = {name: value for name, value in options.items()
             if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT and value != ()}
    summary = import_cells(list(sources), out, format=format_, **given)
    dropped = ", ".join(f"{k} {v}" for k, v in summary["dropped"].items())
    split_by = options["split_by"]
    height, width, _ = summary["image_shape"]
    _summary(f"Wrote {summary['path']}: {summary['cells']} cells, {summary['proteins']} proteins, "
             f"{summary['dtype']}, {summary['classes']} classes, split by {split_by}; {height}x{width} crops of "
             f"{', '.join(summary['channel_names'])}" + (f" ({summary['resized']})" if summary.get("resized") else "")
             + (f"; dropped {dropped}" if dropped else ""))


@main.command("simulate", options_metavar="--out DIR [OPTIONS]")
@click.argument("outdir", type=click.Path(file_okay=False), required=False, cls=_DeprecatedArgument)
@click.option("--out", "out_option", type=click.Path(file_okay=False), default=None, help="Directory to create.")
@click.option("--proteins", type=click.IntRange(min=1), default=320, help="Number of proteins.")
@click.option("--cells-per-protein", type=click.IntRange(min=1), default=50,
              help="Cells per protein (the mean with --cells-per-protein-spread).")
@click.option("--cells-per-protein-spread", type=click.FloatRange(0, 3), default=0.0, metavar="SIGMA",
              help="Log-sd of a lognormal number of cells per protein (0: all equal; at least 4 cells).")
@click.option("--plates", type=click.IntRange(min=1), default=4, help="Plates (assigned independently of function).")
@click.option("--seed", type=_SEED, default=0, help="Seed of everything.")
@click.option("--dead-ghost-fraction", type=click.FloatRange(0, 0.5), default=0.02,
              help="Share of DEAD/GHOST cells (0 drops these classes).")
@click.option("--difficulty", type=_LazyChoice("deeploc_keras.data.synthetic.camera", "DIFFICULTIES"), default="medium",
              help="Nuisance level (noise, blur, debris, off-centre cells).")
@click.option("--hierarchy", type=_LazyChoice("deeploc_keras.data.synthetic.screen", "HIERARCHY_CHOICES"), default="grounded",
              help="grounded: real ORFs, Huh 2003 classes and real groups (shipped annotation); synthetic: all drawn.")
@click.option("--annotations", type=click.Path(), default=None,
              help="Folder of original annotation files (Huh 2003, GO BP, KEGG, complexes, GO slim) to ground the "
                   "hierarchy instead of the package's copy.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTDIR.")
def simulate_command(outdir: str | None, out_option: str | None, proteins: int, cells_per_protein: int, cells_per_protein_spread: float,
                     plates: int, seed: int, dead_ghost_fraction: float, difficulty: str, hierarchy: str,
                     annotations: str | None, overwrite: bool) -> None:
    """Simulate a yeast ORF-GFP screen with a known functional hierarchy into --out DIR."""
    from .data.synthetic import simulate_screen

    outdir = _out_or_positional(out_option, outdir, command="simulate", what="DIR")
    screen = simulate_screen(
        outdir, proteins=proteins, cells_per_protein=cells_per_protein,
        cells_per_protein_spread=cells_per_protein_spread, plates=plates, seed=seed,
        dead_ghost_fraction=dead_ghost_fraction, difficulty=difficulty, hierarchy=hierarchy, annotations=annotations,
        overwrite=overwrite, progress=stderr_is_terminal() and verbosity() >= 0,
    )
    _summary(f"{screen.outdir}: {screen.n_cells} cells of {screen.n_proteins} proteins, "
               f"{len(screen.class_names)} classes; wrote cells.h5, proteins.csv, standards/"
               f"{{{','.join(screen.standards)}}}.gmt")


def _parse_devices(ctx: click.Context, param: click.Parameter, value: str | None) -> int | tuple[str, ...] | None:
    """``--devices``: a count of devices, or a comma-separated list of device names."""
    if value is None:
        return None
    return int(value) if value.isdigit() else tuple(v.strip() for v in value.split(",") if v.strip())


def _seed_list(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple[int, ...]:
    """A repeatable, comma-separated list of seeds (``--seeds 0,1 --seeds 2``), each in [0, 2**32 - 1]."""
    items = _split_list(ctx, param, value)
    try:
        return tuple(_SEED.convert(s, param, ctx) for s in items)
    except click.BadParameter as exc:
        raise click.BadParameter(f"expected integers in [0, {MAX_SEED}], got {','.join(items)!r} ({exc.message})"
                                 ) from None


@main.command("train")
@click.argument("store_path", metavar="STORE.h5", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--method", type=click.Choice(TRAINABLE_METHODS), default=None, help="Method to train [default: deeploc].")
@click.option("--model", "model_alias", type=click.Choice(TRAINABLE_METHODS), default=None, hidden=True,
              help="Deprecated alias of --method.")
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="study", help="DeepLoc training protocol.")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help=f"Epochs [default: preset's, pci {PCI_DEFAULTS['epochs']}].")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help=f"Batch [default: preset's, pci {PCI_DEFAULTS['batch_size']}].")
@click.option("--lr", "learning_rate", type=click.FloatRange(min=0, max=math.inf, min_open=True, max_open=True),
              default=None,
              help="Learning rate.")
@click.option("--lr-sweep", is_flag=True,
              help="Train the sweep rates x --seeds; choose the rate of minimal mean val loss over the seeds.")
@click.option("--seeds", multiple=True, callback=_seed_list, default=("0",),
              help="Seeds of the sweep; repeatable or comma-separated, e.g. 0,1,2.")
@click.option("--width", type=click.FloatRange(min=0, min_open=True), default=1.0, help="Width multiplier.")
@click.option("--mixed-precision", type=click.Choice(MIXED_PRECISION_CHOICES), default="auto",
              help="auto = float16 on GPU, off on CPU.")
@click.option("--devices", default=None, callback=_parse_devices,
              help="MirroredStrategy over N GPUs, or a comma-separated device list.")
@click.option("--standards", "monitor", type=click.Path(exists=True), default=None,
              help="Standards directory: score test protein profiles after every epoch (monitor.csv).")
@click.option("--monitor", "monitor_alias", type=click.Path(exists=True), default=None, hidden=True,
              help="Deprecated alias of --standards.")
@click.option("--aliases", type=click.Path(dir_okay=False), default=None,
              help="With --standards: SGD_features.tab to map gene names to ORFs.")
@click.option("--seed", type=_SEED, default=None,
              help="Seed of weights, augmentation and pipeline of a single run [default: 0; a sweep uses --seeds].")
@click.option("--patience", "early_stopping_patience", type=click.IntRange(min=1), default=None,
              help="Stop after this many epochs without a better val loss [default: none, train every epoch].")
@click.option("--class-balanced", is_flag=True, help="Class-balanced sampling of training cells.")
@click.option("--xla/--no-xla", "jit_compile", default=True, help="Compile the train step with XLA.")
@click.option("--steps-per-epoch", type=click.IntRange(min=1), default=None, help="Fixed steps per epoch.")
@click.option("--readers", type=click.IntRange(min=1), default=None,
              help="Store reads at the same time [default: 1 window; PCI: tuned by tf.data].")
@click.option("--tensorboard", is_flag=True, help="Write TensorBoard logs to RUN/logs.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from RUN/backup.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
def train_command(store_path: str, out: str, method: str | None, model_alias: str | None, monitor_alias: str | None,
                  resume: bool, overwrite: bool, **options: Any) -> None:  # options: the fields of TrainConfig
    """Train DeepLoc (or PCI, PIFiA with --method pci|pifia) on a cell store into a run directory."""
    from .training.train import train

    if model_alias is not None:
        if method is not None and method != model_alias:
            raise click.BadParameter(f"--model {model_alias} contradicts --method {method}", param_hint="--model")
        _deprecated("`train --model`", "--method")
        method = model_alias
    if monitor_alias is not None:
        if options["monitor"] is not None and options["monitor"] != monitor_alias:
            raise click.BadParameter(f"--monitor {monitor_alias} contradicts --standards {options['monitor']}",
                                     param_hint="--monitor")
        _deprecated("`train --monitor`", "--standards")
        options["monitor"] = monitor_alias
    if not options["lr_sweep"] and click.get_current_context().get_parameter_source("seeds") is not ParameterSource.DEFAULT:
        raise click.BadParameter("the seeds of a sweep need --lr-sweep; a single run takes --seed N", param_hint="--seeds")
    config = TrainConfig.from_preset(method or "deeploc", **options)
    result = train(store_path, out, config, overwrite=overwrite, resume=resume)
    _summary(f"{result['best_model']}: best val_loss {result['best_val_loss']:.4f} "
             f"(lr {result['lr']:g}, seed {result['seed']}, {result['epochs']} epochs)")


@main.command("extract")
@click.argument("store_path", metavar="STORE.h5", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Profile directory.")
@click.option("--method", type=click.Choice(METHOD_NAMES), default="deeploc", help="Feature method.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), default=None, help="RUN/best.keras.")
@click.option("--layer", default=None, help="Layer [default: " + ", ".join(
    f"{spec.default_layer} for {name}" for name, spec in METHODS.items() if spec.default_layer) + "].")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default="test", help="Cells to profile.")
@click.option("--tta", type=click.Choice(TTA_MODES), default=None, help="DeepLoc test-time crops [default: preset's].")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, help="Cells per step.")
@click.option("--shard", default=None, help="Only shard i/n (0-based) -> cells.part-i-of-n.parquet.")
@click.option("--merge-shards", is_flag=True, help="Merge the cells.part-*.parquet in --out, write proteins.")
@click.option("--pca", type=float, default=None, help="cellprofiler: PCA variance fraction, e.g. 0.99.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="cellprofiler: local workers.")
@click.option("--scheduler", default=None, help="cellprofiler: Dask scheduler address.")
@click.option("--rescale", is_flag=True, help="cellprofiler: rescale float crops above 1 to [0, 1].")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
def extract_command(store_path: str, out: str, method: str, model_path: str | None, layer: str | None, split: str,
                    tta: str | None, batch_size: int, shard: str | None, merge_shards: bool, pca: float | None,
                    workers: int | None, scheduler: str | None, rescale: bool, overwrite: bool) -> None:
    """Write per-cell (cells.parquet) and per-protein (proteins.parquet) profiles."""
    from .inference.extract import extract
    from .inference.extract import merge_shards as merge

    if merge_shards:
        result = merge(out, overwrite=overwrite)
        _summary(f"{result['cells']}: {result['n_cells']} cells merged; {result['proteins']}")
        return
    options = {} if method != "cellprofiler" else {"pca": pca, "workers": workers, "scheduler": scheduler,
                                                   "rescale": rescale}
    if method != "cellprofiler" and (pca is not None or workers or scheduler or rescale):
        raise click.BadParameter("--pca/--workers/--scheduler/--rescale apply to --method cellprofiler only")
    result = extract(store_path, out, method=method, model_path=model_path, layer=layer, split=split, tta=tta,
                     batch_size=batch_size, shard=shard, overwrite=overwrite, **options)
    _summary(_extract_summary(result))


def _extract_summary(result: dict) -> str:
    """One line: what was written, how many of the store's cells, which split (and how to get every cell)."""
    selection = f"{result['n_cells']:,} of {result['n_store_cells']:,} cells, split {result['split']}"
    if result["split"] != "all":
        selection += "; --split all for every cell"
    written = result["cells"] + (f" and {result['proteins']}" if result.get("proteins") else "")
    return f"Wrote {written}: {result['n_features']:,} {result['method']} features; {selection}"


@main.command("predict")
@click.argument("store_path", metavar="STORE.h5", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False),
              help="RUN/best.keras of a DeepLoc run.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write.")
@click.option("--split", type=click.Choice(SPLIT_CHOICES), default="test", help="Cells to classify.")
@click.option("--tta", type=click.Choice(TTA_MODES), default=None,
              help="Test-time crops [default: 5crop, the original; center for a preset without a crop].")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True), default=0.25,
              help="Share of a protein's cells a class must top to be called (multi-localized: two or more).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, help="Cells per step.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
def predict_command(store_path: str, model_path: str, out: str, split: str, tta: str | None, threshold: float,
                    batch_size: int, overwrite: bool) -> None:
    """Localization calls: per-cell class probabilities and per-protein calls of a DeepLoc model."""
    from .inference.predict import predict

    result = predict(store_path, out, model_path=model_path, split=split, tta=tta, threshold=threshold,
                     batch_size=batch_size, overwrite=overwrite)
    accuracy = "" if result["cell_accuracy"] is None else f"; cell accuracy {result['cell_accuracy']:.3f} " \
                                                             f"(confusion.csv, metrics.json)"
    _summary(f"Wrote {result['cells']} and {result['proteins']}: {result['n_cells']:,} cells "
               f"(split {result['split']}, tta {result['tta']}), {result['n_proteins']:,} proteins, "
               f"{result['n_multi_localized']:,} multi-localized{accuracy}")


@main.command("export")
@click.argument("profiles", metavar="PROFILES.parquet", type=click.Path(dir_okay=True))
@click.option("--format", "format_", type=_LazyChoice("deeploc_keras.inference.export", "EXPORT_FORMATS"), default="h5ad",
              help="h5ad: AnnData (features in X, Metadata_* in obs, provenance in uns; needs anndata).")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="File to write, e.g. proteins.h5ad.")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def export_command(profiles: str, format_: str, out: str, overwrite: bool) -> None:
    """Write a profile table (cells.parquet or proteins.parquet) as AnnData .h5ad for scanpy."""
    from .inference.export import export_profiles

    result = export_profiles(profiles, out, format=format_, overwrite=overwrite)
    _summary(f"Wrote {result['path']}: {result['n_obs']:,} x {result['n_vars']:,} ({format_})")


@main.command("convert-checkpoint", options_metavar="--out OUT.keras [OPTIONS]")
@click.argument("checkpoint", metavar="CKPT")
@click.argument("out", metavar="OUT.keras", type=click.Path(dir_okay=False), required=False, cls=_DeprecatedArgument)
@click.option("--out", "out_option", type=click.Path(dir_okay=False), default=None, help="Keras model file to write.")
@click.option("--from", "source", type=click.Choice(CHECKPOINT_SOURCES), default="deeploc",
              help="deeploc: the original DeepLoc TF1 checkpoint (model.ckpt-5000); pifia: the TF2 checkpoint of "
                   "arazd/pifia (model/pretrained_weights/pifia_weights_i0).")
@click.option("--num-classes", type=click.IntRange(min=2), default=None,
              help="Expected classes, proteins for pifia (default: read from the checkpoint).")
@click.option("--input-channels", type=click.IntRange(min=1), default=2,
              help="pifia: channels of the store crops the model reads; the network takes the first (GFP).")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT.keras.")
def convert_checkpoint_command(checkpoint: str, out: str | None, out_option: str | None, source: str,
                               num_classes: int | None, input_channels: int, overwrite: bool) -> None:
    """Convert the authors' checkpoint (DeepLoc TF1 model.ckpt-5000, or --from pifia) to a Keras model --out OUT.keras."""
    from .models.convert import convert_checkpoint

    out = _out_or_positional(out_option, out, command="convert-checkpoint", what="OUT.keras")
    path = convert_checkpoint(checkpoint, out, source=source, num_classes=num_classes, input_channels=input_channels,
                              overwrite=overwrite)
    what = ("kraus2017 DeepLoc; input: raw 64x64 crops" if source == "deeploc" else
            f"PIFiA; input: raw 64x64 crops of {input_channels} channel(s), features: extract --method pifia")
    _summary(f"wrote {path} ({what})")


@main.command("score")
@click.argument("profiles", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--standards", "standards", multiple=True, required=True, type=click.Path(), callback=_split_list,
              help="Standard file (.gmt/.tsv/.json) or directory of them; repeatable or comma-separated.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Score directory to create.")
@click.option("--name", "names", multiple=True, callback=_split_list,
              help="Display name per profile file; repeatable or comma-separated [default: the method recorded in the file, else the "
                   "file's name (its folder for proteins.parquet)].")
@click.option("--id-column", default="Metadata_Protein", help="Column of the protein ids.")
@click.option("--metric", "metrics", multiple=True, callback=_split_list,
              help="Metric to compute (eval.catalog.METRICS; an unknown name lists them); repeatable or "
                   "comma-separated [default: all].")
@click.option("--aliases", type=click.Path(dir_okay=False), help="SGD_features.tab to map gene names to ORFs.")
@click.option("--seed", type=_SEED, default=0, help="Seed of the AMI samples and bootstrap resamples.")
@click.option("--bootstrap", "n_bootstrap", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples of the proteins: 95% intervals of AP, mAP, F0.5 and the within AP/mAP, and "
                   "the paired tests of --compare-to (smallest p 1/(N+1); 0: none).")
@click.option("--null", "n_null", type=click.IntRange(min=0), default=100, show_default=True,
              help="Draws of each metric's null (permuted profiles; within a class for the within metrics): the "
                   "measured chance and the test of AMI against it (smallest p 1/(N+1); 0: none).")
@click.option("--permutations", "n_permutations", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Permutation null size of per-group retrieval (groups.csv, fraction_retrieved; 0: none).")
@click.option("--compare-to", "compare_to", multiple=True, callback=_split_list,
              help="Baseline representation name; repeatable or comma-separated. Every other representation that "
                   "is not a --references row is tested against each baseline (tests.csv; needs --bootstrap).")
@click.option("--localization", metavar="FILE|metadata",
              help="Localization classes (a standard file, or 'metadata' for each file's Metadata_Label): adds "
                   "AP and mAP within each class, averaged over the classes.")
@click.option("--within-standard", "within_standards", multiple=True, callback=_split_list,
              help="With --localization: a standard the within metrics score; repeatable or comma-separated "
                   "[default: every standard].")
@click.option("--normalize", type=_LazyChoice("deeploc_keras.core.processing", "NORMALIZE_CHOICES"), default="none",
              show_default=True, help="Per-feature normalization across proteins applied to every representation "
                                      "(none: the study's raw comparison).")
@click.option("--references", "references_store", metavar="STORE.h5", type=click.Path(dir_okay=False),
              help="Add the ladder's reference rows (pixel statistics, localization labels, untrained twins), "
                   "computed on the cells of this store the profiles were extracted from (written to OUT/references/).")
@click.option("--references-split", type=click.Choice(SPLIT_CHOICES), default=None,
              help="Cells of the references [default: the split the profiles record, else test].")
@click.option("--untrained", "untrained", multiple=True, type=click.Path(),
              help="With --references: a deeploc or pci run (RUN or RUN/best.keras) whose untrained twin "
                   "(same configuration and seed, random weights) is added; repeatable, one per method.")
@click.option("--generating", type=click.Path(dir_okay=False),
              help="With --references: a simulated screen's proteins.csv, adding its generating parameters (the "
                   "ceiling).")
@click.option("--overwrite", is_flag=True, help="Replace an existing score directory.")
def score_command(profiles, standards, out, names, id_column, metrics, aliases, seed, n_bootstrap, n_null,
                  n_permutations, compare_to, localization, within_standards, normalize, references_store,
                  references_split, untrained, generating, overwrite) -> None:
    """Score protein profiles (Parquet or CSV) against functional standards (AP, mAP, AMI, F0.5); draw Figure 1."""
    options = {"names": list(names) or None, "id_column": id_column, "metrics": list(metrics) or None, "seed": seed,
               "n_bootstrap": n_bootstrap, "n_null": n_null, "n_permutations": n_permutations,
               "compare_to": list(compare_to) or None, "localization": localization,
               "within_standards": list(within_standards) or None, "aliases": aliases, "normalize": normalize,
               "overwrite": overwrite}
    ladder = {"--references-split": references_split, "--untrained": untrained, "--generating": generating}
    if references_store is None:
        from eval.score import score

        given = [option for option, value in ladder.items() if value]
        if given:
            raise click.UsageError(f"{given[0]} needs --references STORE.h5")
        with _workers_end_with_this_process():
            summary = score(list(profiles), list(standards), out, **options)
    else:
        with _workers_end_with_this_process():
            summary = score_with_references(list(profiles), list(standards), out, store=references_store,
                                            split=references_split, untrained=list(untrained), generating=generating,
                                            **options)
    from eval.score import console_table

    click.echo(f"normalize: {normalize}")
    click.echo(console_table(summary).to_string())
    groups = "groups.csv, " if n_permutations else ""
    references = f", {REFERENCES_DIR}/" if references_store else ""
    _summary(f"wrote {out}/summary.csv, tests.csv, coverage.csv, {groups}figure1_summary.png/.svg/.csv{references}")


@main.group("standards")
def standards_group() -> None:
    """Build functional standards (GMT, TSV or JSON) from SGD GO slims, Huh 2003 and module JSON files, fetch the
    current ones from their providers, and build labels CSVs."""


@standards_group.command("build")
@click.option("--from", "source", required=True, type=_LazyChoice("eval.standards", "BUILDERS"),
              help="Kind of source file.")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--aspect", type=_LazyChoice("eval.standards", "ASPECTS"), default="C",
              help="GO aspect for sgd-slim: C component, P process.")
@click.option("--min-size", type=click.IntRange(min=1), default=10, help="sgd-slim: smallest term kept.")
@click.option("--max-size", type=click.IntRange(min=1), default=200, help="sgd-slim: largest term kept.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Standard file to write; its suffix picks the format (.gmt, .tsv or .json).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def standards_build_command(source, path, aspect, min_size, max_size, out, overwrite) -> None:
    """Build a standard from FILE and write it as GMT, TSV or JSON (by the suffix of --out)."""
    from eval.standards import STANDARD_SUFFIXES, build_standard, write_standard

    check_output(out, overwrite=overwrite)
    check_not_an_input(out, [path], command="standards build")
    if os.path.splitext(out)[1].lower() not in STANDARD_SUFFIXES:
        raise click.BadParameter(f"{out}: name the file with one of {', '.join(STANDARD_SUFFIXES)} (the format)",
                                 param_hint="--out")
    standard = build_standard(source, path, aspect=aspect, min_size=min_size, max_size=max_size)
    write_standard(standard, out, overwrite=overwrite)
    n_proteins = len(set().union(*standard.values()))
    _summary(f"wrote {out}: {len(standard)} groups, {n_proteins} proteins")


@standards_group.command("labels")
@click.option("--from", "source", required=True, type=_LazyChoice("deeploc_keras.data.importers.labels", "LABEL_SOURCES"),
              help="Kind of localization table.")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--multi", type=_LazyChoice("deeploc_keras.data.importers.labels", "MULTI_RULES"), default="rarest",
              help="Multi-localized proteins: their rarest class, or no label.")
@click.option("--aliases", type=click.Path(dir_okay=False),
              help="SGD_features.tab: also label every gene name and alias of a labelled ORF.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Labels CSV to write (protein,label).")
@click.option("--overwrite", is_flag=True, help="Replace an existing file.")
def standards_labels_command(source, path, multi, aliases, out, overwrite) -> None:
    """Build the labels CSV of `import --labels` from a localization table (one class per protein)."""
    from .data.importers.labels import huh2003_labels, write_labels_csv

    check_output(out, overwrite=overwrite)
    check_not_an_input(out, [path, aliases], command="standards labels")
    labels = huh2003_labels(path, multi=multi, aliases=aliases)
    write_labels_csv(labels, out, overwrite=overwrite)
    click.echo(f"wrote {out}: {len(labels)} proteins, {labels['label'].nunique()} classes")


@standards_group.command("fetch")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to create.")
@click.option("--cache", type=click.Path(file_okay=False), default=None,
              help="Where downloads are kept and reused [default: ~/.cache/deeploc-keras/standards].")
@click.option("--refresh", is_flag=True, help="Download every file again even when cached.")
@click.option("--overwrite", is_flag=True, help="Replace an existing directory.")
def standards_fetch_command(out, cache, refresh, overwrite) -> None:
    """Download the current GO, SGD, Complex Portal and KEGG files and write the four standards (GMT).

    Writes cellular_component, bioprocess, pathway and complex .gmt, and PROVENANCE.md with each file's
    address, date, md5 and licence. KEGG's terms restrict redistribution: keep pathway.gmt to yourself.
    """
    from eval.fetch import fetch_standards

    written = fetch_standards(out, cache=cache, refresh=refresh, overwrite=overwrite)
    _summary(f"wrote {out}: {', '.join(p.name for p in written.values())}, PROVENANCE.md")


@main.group("plot")
def plot_group() -> None:
    """Draw the study's figures 2 (t-SNE) and 3 (training monitor)."""


@plot_group.command("tsne")
@click.argument("profiles", type=click.Path(dir_okay=False))
@click.option("--localization", default=None, type=click.Path(dir_okay=False),
              help="Localization standard file [default: colour by the profiles' trained classes, Metadata_Label].")
@click.option("--processes", "process_standard", required=True, type=click.Path(dir_okay=False),
              help="Biological-process standard file.")
@click.option("--process", "processes", multiple=True, callback=_split_list,
              help="Process group to draw; repeatable or comma-separated (default: 23 largest).")
@click.option("--perplexity", type=click.FloatRange(min=1), default=40.0, help="t-SNE perplexity.")
@click.option("--aliases", type=click.Path(dir_okay=False), help="SGD_features.tab to map gene names to ORFs.")
@click.option("--seed", type=_SEED, default=0, help="t-SNE seed.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to create.")
@click.option("--overwrite", is_flag=True, help="Replace an existing directory.")
def plot_tsne_command(profiles, localization, process_standard, processes, perplexity, aliases, seed, out,
                      overwrite) -> None:
    """Figure 2: t-SNE of PROFILES by localization, with KDE clouds of bioprocesses."""
    from eval.plots import plot_tsne
    from eval.standards import read_aliases

    paths = plot_tsne(profiles, localization, process_standard, out, processes=list(processes) or None,
                      perplexity=perplexity, seed=seed, aliases=read_aliases(aliases) if aliases else None,
                      overwrite=overwrite)
    _summary("wrote " + ", ".join(map(str, paths)))


@plot_group.command("monitor")
@click.argument("monitor_csv", metavar="MONITOR.csv", type=click.Path(dir_okay=False))
@click.option("--metric", "metrics", type=_LazyChoice("eval.catalog", "METRIC_NAMES"), multiple=True,
              help="Metric to draw (repeatable) [default: every metric of the file].")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to create.")
@click.option("--overwrite", is_flag=True, help="Replace an existing directory.")
def plot_monitor_command(monitor_csv, metrics, out, overwrite) -> None:
    """Figure 3: the test-cell scores per standard over training epochs, one line per run."""
    from eval.plots import plot_monitor

    paths = plot_monitor(monitor_csv, out, metrics=list(metrics) or None, overwrite=overwrite)
    _summary("wrote " + ", ".join(map(str, paths)))


@main.command("reproduce")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory of the run.")
@click.option("--preset", default="cpu", type=click.Choice(REPRODUCE_PRESET_NAMES),
              help="smoke: CI check (< 3 min); cpu: the embedded demo (< 20 min on 2 cores); paper: full study on a GPU.")
@click.option("--store", type=click.Path(dir_okay=False), default=None, help="A real cell store (needs --standards).")
@click.option("--standards", type=click.Path(file_okay=False), default=None,
              help="Directory with cellular_component, bioprocess, pathway and complex standards (needs --store).")
@click.option("--seed", default=0, type=_SEED, help="Seed of every random draw.")
@click.option("--hierarchy", type=_LazyChoice("deeploc_keras.data.synthetic.screen", "HIERARCHY_CHOICES"), default="grounded",
              help="Hierarchy of the simulated screen (grounded: real ORFs and groups; synthetic: all drawn).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run (finished steps are skipped).")
@click.option("--overwrite", is_flag=True, help="Delete --out first.")
def reproduce_command(out: str, preset: str, store: str | None, standards: str | None, seed: int, hierarchy: str,
                      resume: bool, overwrite: bool) -> None:
    """Reproduce the study end to end: data, three representations, four standards, figures, report."""
    from .study.report import summary_table
    from .study.reproduce import reproduce

    with _workers_end_with_this_process():
        summary = reproduce(out, preset=preset, store=store, standards=standards, seed=seed, hierarchy=hierarchy,
                            resume=resume, overwrite=overwrite)
    click.echo(summary_table(summary).to_string())
    _summary(f"Wrote {os.path.join(out, 'report.html')} and {os.path.join(out, 'summary.csv')}")
