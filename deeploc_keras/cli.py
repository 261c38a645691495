"""The ``deeploc-keras`` command line: one click group, thin commands.

Each command parses its options, calls one library function with the same names
and defaults, and prints a short summary. Bad input becomes one line on stderr
and exit code 2 (set ``DEEPLOC_KERAS_DEBUG=1`` to see the traceback).
"""

from __future__ import annotations

import json
import logging
import os
import sys

import click

from ._version import __version__

__all__ = ["main"]


class _Group(click.Group):
    """A click group that turns user errors into one line and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (ValueError, OSError, KeyError) as exc:
            if os.environ.get("DEEPLOC_KERAS_DEBUG"):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if isinstance(exc, KeyError):
                message = f"unknown key {exc}"
            click.echo(f"Error: {message}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted; no partial output was kept.", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="deeploc-keras")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """DeepLoc in Keras: train, embed, profile and score yeast protein localization."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if verbose == 0:
        logging.getLogger("deeploc_keras").setLevel(logging.INFO)
        logging.getLogger("eval").setLevel(logging.INFO)
        logging.getLogger("cellprofiler_features").setLevel(logging.INFO)


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


@main.command("inspect")
@click.argument("store_path", metavar="STORE.h5", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def inspect_command(store_path: str, as_json: bool) -> None:
    """Summarise a cell store: cells, proteins, classes, splits, dtype and intensity ranges."""
    from .store import CellStore

    with CellStore.open(store_path) as store:
        summary = store.summary()
    if as_json:
        _echo_json(summary)
        return
    click.echo(f"{summary['path']}: {summary['cells']} cells, {summary['proteins']} proteins, "
               f"{tuple(summary['image_shape'])} {summary['dtype']}, channels {', '.join(summary['channel_names'])}")
    if summary["unknown_protein_cells"]:
        click.echo(f"  cells with unknown protein: {summary['unknown_protein_cells']}")
    click.echo("  splits: " + ", ".join(f"{k} {v}" for k, v in summary["splits"].items()))
    click.echo("  classes: " + (", ".join(f"{k} {v}" for k, v in summary["classes"].items()) or "none"))
    for name, rng in summary["channel_ranges"].items():
        click.echo(f"  {name}: min {rng['min']:.6g}, max {rng['max']:.6g}, mean {rng['mean']:.6g}"
                   f" (first {summary['channel_ranges_sampled_cells']} cells)")


# --- commands: import (issue 2) ---

# --- commands: simulate (issue 3) ---

# --- commands: train, extract, convert-checkpoint (issue 4, 5, 6) ---

# --- commands: score, standards, plot (issue 7) ---

# --- commands: reproduce (issue 8) ---
