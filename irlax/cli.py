"""The `irlax` command: learn rewards and policies, forecast walkers, train experts, draw them.

This module parses and reports; the subcommands, their options (fields of dataclasses, see
`irlax._cli_options`) and what they run are in `irlax.commands`, which imports JAX and every
method. It is imported only once a subcommand is named, so that `irlax --help` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from pathlib import Path

# Subcommand: its line in `irlax --help`.
COMMANDS = {
    "demo": "solve a built-in gridworld with soft value iteration and draw it",
    "irl": "learn a reward from demos in a benchmark world, evaluate it and draw it",
    "forecast": "learn where walkers go on a semantic map and forecast held-out tracks (Kitani 12)",
    "expert": "train an expert policy with PPO or SAC and record demonstrations",
    "imitate": "learn a policy (and a reward) from demos on an environment (deep methods)",
    "sweep": "run a grid of irlax commands over seeds as Ray tasks and summarise them",
}


class UsageError(Exception):
    """A command line argparse refuses."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        # argparse prints the usage and exits; the command prints one line and returns 2.
        raise UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def top_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The `irlax` parser's global options, and the (empty) set of its subcommands."""
    top = _Parser(prog="irlax", description=__doc__.splitlines()[0])
    top.add_argument(
        "--jax-cache",
        metavar="DIR",
        default=None,
        help="folder of the persistent compilation cache, or off (default: $IRLAX_JAX_CACHE, "
        "else ~/.cache/irlax/jax): a second run of the same command loads its compiled "
        "programs instead of compiling them",
    )
    return top, top.add_subparsers(dest="command", required=True, metavar="COMMAND")


def parser() -> argparse.ArgumentParser:
    """The whole `irlax` command line (imports every method)."""
    from irlax import commands

    return commands.parser()


def _names_command(argv: list[str]) -> bool:
    """Whether `argv` names a subcommand (its first word that is not a global option)."""
    words = iter(argv)
    for word in words:
        if word == "--jax-cache":
            next(words, None)
        elif not word.startswith("-"):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `irlax` command; returns the exit status (2: bad arguments)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = options = None
    with warnings.catch_warnings():
        warnings.showwarning = _OneLineWarnings()
        try:
            if not _names_command(argv):
                # `irlax`, `irlax --help`: the list of subcommands, without importing them.
                top, commands = top_parser()
                for name, line in COMMANDS.items():
                    commands.add_parser(name, help=line)
                top.parse_args(argv)
            from irlax import compilation_cache
            from irlax._cli_options import build
            from irlax._files import exclusive_folder

            args, unknown = parser().parse_known_args(argv)
            if unknown:
                # argparse would name the top command; the options are the subcommand's.
                raise UsageError(
                    f"{args.prog}: error: unrecognized arguments: {' '.join(unknown)} "
                    f"(see {args.prog} --help)"
                )
            # A class is built from its options; a function builds what needs several classes.
            options = [build(c, args) if isinstance(c, type) else c(args) for c in args.classes]
            compilation_cache.enable(args.jax_cache)
            out = getattr(options[0], "out", None)
            # Two runs writing one results folder (checkpoints, results) cannot interleave.
            with contextlib.nullcontext() if out is None else exclusive_folder(out):
                return args.run(*options)
        except UsageError as e:
            print(e, file=sys.stderr)
        except KeyboardInterrupt:
            prog = args.prog if args is not None else "irlax"
            out = getattr(options[0], "out", None) if args is not None and options else None
            resumable = out is not None and (Path(out) / "checkpoint.msgpack").exists()
            hint = " (run the same command again to resume from its last checkpoint)"
            print(f"{prog}: interrupted{hint if resumable else ''}", file=sys.stderr)
            return 130
        except (ValueError, OSError) as e:
            prog = args.prog if args is not None else "irlax"
            print(f"{prog}: error: {' '.join(str(e).split())}", file=sys.stderr)
    return 2


class _OneLineWarnings:
    """`warnings.showwarning` for the command: each warning one line on stderr, and JAX's
    warnings about unreadable compilation cache entries (one per entry, every run until the
    folder is cleared) one line in all."""

    def __init__(self) -> None:
        self.cache_reported = False

    def __call__(self, message, category, filename, lineno, file=None, line=None) -> None:
        text = " ".join(str(message).split())
        if text.startswith("Error reading persistent compilation cache entry"):
            if self.cache_reported:
                return
            self.cache_reported = True
            import jax

            folder = jax.config.jax_compilation_cache_dir
            text = (
                f"the compilation cache {folder} holds unreadable entries (corrupt?); their "
                f"programs are compiled afresh (delete the folder to clear them): {text}"
            )
        print(f"irlax: warning: {text}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
