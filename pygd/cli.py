"""The `pygd` command (also `python -m pygd`).

    pygd bench [--quick] [--optimizers ...] [--sizes ...] [--json FILE] [--plot FILE.png]
               [--compare OLD.json]
    pygd compare OLD.json NEW.json

Exit status: 0 when done, 1 when --compare (or `pygd compare`) found a pygd regression, 2 for bad
arguments or an unreadable result file.
"""

from __future__ import annotations

import argparse
import datetime
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import Any, Optional, TypeVar

from . import __version__

EXIT_REGRESSION = 1

_T = TypeVar("_T")


def _comma_list(parse: Callable[[str], _T], what: str) -> Callable[[str], tuple[_T, ...]]:
    """An argparse type for a comma-separated list, each item parsed by `parse`."""
    def convert(text: str) -> tuple[_T, ...]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"no {what} given")
        try:
            return tuple(parse(item) for item in items)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return convert


def _one_of(choices: Sequence[str], what: str) -> Callable[[str], str]:
    def parse(item: str) -> str:
        if item.lower() not in choices:
            raise ValueError(f"unknown {what} {item!r}; choose from {', '.join(choices)}")
        return item.lower()
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 10:
        raise argparse.ArgumentTypeError(f"must be a fraction above 0 (0.1 = 10%%), got {value}")
    return value


def _add_bench(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .bench import compare, contenders, timing, workloads

    bench = commands.add_parser(
        "bench", formatter_class=argparse.RawDescriptionHelpFormatter,
        help="time pygd against this machine's bandwidth and the optimizers installed here",
        description=(
            "Measure this machine's in-place streaming bandwidth with pygd's native probe, then\n"
            "time one step of each optimizer at each size for pygd and every comparator installed\n"
            "(NumPy written the obvious way, torch.optim for-loop/foreach/fused, DeepSpeedCPUAdam).\n"
            "Contenders are interleaved round by round after a warm-up, on fresh random inputs,\n"
            "cycling through several copies of the arrays where one copy would stay in cache.\n"
            "Prints ms/step (median, ± half the interquartile range), GB/s, % of the probe and the\n"
            "speedup over torch fused, and writes every sample to a JSON file."),
        epilog=(
            "examples:\n"
            "  pygd bench --quick                          about a minute\n"
            "  pygd bench --sizes 64M --optimizers adam --dtypes float32,float64\n"
            "  pygd bench --quick --json new.json --compare baseline.json   (a CI gate)\n"
            "\noptimizers (one common configuration each):\n"
            + "".join(f"  {o.key:15s} {o.label}: "
                      + ", ".join(f"{k}={v}" for k, v in o.hparams.items()) + "\n"
                      for o in workloads.OPTIMIZERS.values())
            + "\ncontenders (one that is not installed is skipped, and noted):\n"
            + "".join(f"  {c.name:15s} {c.description}\n" for c in contenders.CONTENDERS.values())))
    quick_optimizers = ",".join(workloads.QUICK_OPTIMIZERS)
    quick_sizes = ",".join(workloads.QUICK_SIZES)
    what = bench.add_argument_group("what to time")
    what.add_argument("--quick", action="store_true",
                      help=f"{quick_optimizers} at {quick_sizes}, {timing.QUICK.min_rounds}+ runs "
                           "each: under a minute on 2 cores")
    what.add_argument("--optimizers",
                      type=_comma_list(_one_of(tuple(workloads.OPTIMIZERS), "optimizer"), "optimizers"),
                      help=f"comma-separated (default: all; with --quick: {quick_optimizers})")
    what.add_argument("--sizes", type=_comma_list(workloads.parse_size, "sizes"),
                      help="comma-separated: one tensor of so many elements (4096, 4K, 1M, 16M) or a "
                           "list of equal tensors (2000x4096); default: "
                           f"{','.join(workloads.DEFAULT_SIZES)}; with --quick: {quick_sizes}")
    what.add_argument("--dtypes", type=_comma_list(_one_of(workloads.DTYPES, "dtype"), "dtypes"),
                      default=("float32",), help="comma-separated float32,float64 (default: float32)")
    what.add_argument("--contenders", type=_comma_list(_one_of(tuple(contenders.CONTENDERS),
                                                               "contender"), "contenders"),
                      default=contenders.DEFAULT_CONTENDERS,
                      help="comma-separated (default: pygd and every comparator that is installed; "
                           "see below)")
    how = bench.add_argument_group("how to time")
    how.add_argument("--repeat", type=_positive_int, metavar="N",
                     help="timed runs per contender (default: as many as fit a time budget, at "
                          f"least {timing.FULL.min_rounds}, with --quick {timing.QUICK.min_rounds})")
    how.add_argument("--threads", type=_positive_int, metavar="N",
                     help="threads for pygd and torch (default: each library's default, all cores)")
    how.add_argument("--seed", type=int,
                     help="seed of the random inputs (default: a fresh one, recorded in the JSON)")
    out = bench.add_argument_group("output")
    out.add_argument("--json", metavar="FILE",
                     help="where to write the results (default: pygd-bench-<date>-<time>.json here; "
                          "- for standard output, the table then going to standard error)")
    out.add_argument("--no-json", action="store_true", help="write no JSON file")
    out.add_argument("--plot", metavar="FILE.png", help="draw GB/s per contender (needs matplotlib)")
    out.add_argument("--compare", metavar="OLD.json",
                     help="then compare with an earlier run: print the rows that moved beyond the "
                          "noise; exit 1 if a pygd row got slower")
    out.add_argument("--threshold", type=_threshold, default=compare.DEFAULT_THRESHOLD,
                     metavar="FRACTION",
                     help="smallest relative change --compare reports (default: %(default)s)")
    bench.set_defaults(handler=_bench, command_parser=bench)


def _add_compare(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .bench import compare

    cmp = commands.add_parser(
        "compare", help="compare two `pygd bench` JSON files (exit 1 on a pygd regression)",
        description="Print the rows of NEW that moved beyond the noise since OLD: a median change "
                    "above the threshold with the two runs' interquartile ranges apart. Exit 1 if "
                    "a pygd row got slower.")
    cmp.add_argument("old", metavar="OLD.json")
    cmp.add_argument("new", metavar="NEW.json")
    cmp.add_argument("--threshold", type=_threshold, default=compare.DEFAULT_THRESHOLD,
                     metavar="FRACTION",
                     help="smallest relative change reported (default: %(default)s)")
    cmp.set_defaults(handler=_compare, command_parser=cmp)


def build_parser() -> argparse.ArgumentParser:
    """The `pygd` command's parser: the bench and compare commands."""
    parser = argparse.ArgumentParser(
        prog="pygd", description="pygd: fused, native-accelerated gradient-descent steps.")
    parser.add_argument("--version", action="version", version=f"pygd {__version__}")
    # The C ABI (docs/c-abi.md): what a C build needs, as pkg-config prints it.
    c_abi = parser.add_argument_group("the C ABI (libpygd and pygd.h)")
    c_abi.add_argument("--cflags", action="store_true", help="print the compiler flags of a program using pygd.h")
    c_abi.add_argument("--libs", action="store_true", help="print the linker flags of a program using libpygd")
    c_abi.add_argument("--include-dir", action="store_true", help="print the directory of pygd.h")
    c_abi.add_argument("--library", action="store_true", help="print the path of libpygd")
    c_abi.add_argument("--pkg-config", action="store_true",
                       help="print a pkg-config file (pygd.pc) for this installation")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_bench(commands)
    _add_compare(commands)
    return parser


def _load_or_exit(parser: argparse.ArgumentParser, path: str) -> dict[str, Any]:
    from .bench import results
    try:
        doc: dict[str, Any] = results.load(path)
        return doc
    except ValueError as error:
        parser.error(str(error))


def _print_comparison(old_doc: dict[str, Any], new_doc: dict[str, Any], threshold: float,
                      old_name: str, new_name: str) -> int:
    from .bench import compare
    comparison = compare.compare(old_doc, new_doc, threshold)
    for line in compare.lines(comparison, old_doc, new_doc, old_name, new_name):
        print(line)
    return EXIT_REGRESSION if comparison.regressions else 0


def _bench(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> int:
    from .bench import plot, report, results, runner, timing, workloads

    if args.plot and (reason := plot.unavailable()):
        parser.error(reason)
    if args.json and args.no_json:
        parser.error("--json and --no-json exclude each other")
    old_doc = _load_or_exit(parser, args.compare) if args.compare else None  # fail before timing

    base = timing.QUICK if args.quick else timing.FULL
    default_optimizers = workloads.QUICK_OPTIMIZERS if args.quick else tuple(workloads.OPTIMIZERS)
    default_sizes = workloads.QUICK_SIZES if args.quick else workloads.DEFAULT_SIZES
    settings = runner.Settings(
        optimizers=args.optimizers or default_optimizers,
        sizes=args.sizes or tuple(map(workloads.parse_size, default_sizes)),
        dtypes=args.dtypes, contenders=args.contenders,
        plan=timing.Plan(**{**base.as_dict(), "rounds": args.repeat}),
        threads=args.threads, seed=args.seed if args.seed is not None else secrets.randbits(32),
        quick=args.quick)
    to_stdout = args.json == "-" and not args.no_json  # stdout then holds the JSON alone
    out = report.Report(sys.stderr if to_stdout else None)
    doc = runner.run(settings, out, ["pygd", *argv])

    if to_stdout:
        results.write(doc, sys.stdout)
    elif not args.no_json:
        path = args.json or datetime.datetime.now().strftime("pygd-bench-%Y%m%d-%H%M%S.json")
        results.save(doc, path)
        out.print(f"# wrote {path}: machine, versions, settings and every sample"
                  f" (later: pygd bench --compare {path})")
    if args.plot:
        plot.draw(doc, args.plot)
        out.print(f"# drew {args.plot}")
    if old_doc is None:
        return 0
    out.print()
    return _print_comparison(old_doc, doc, args.threshold, args.compare, "this run")


def _compare(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]) -> int:
    old_doc, new_doc = _load_or_exit(parser, args.old), _load_or_exit(parser, args.new)
    return _print_comparison(old_doc, new_doc, args.threshold, args.old, args.new)


def _c_abi(parser: argparse.ArgumentParser, flags: list[str]) -> int:
    """Prints what --cflags, --libs etc. ask for, on one line (--pkg-config: the file)."""
    from . import _paths
    render = {"cflags": _paths.cflags, "libs": _paths.libs, "include_dir": _paths.get_include,
              "library": _paths.get_library, "pkg_config": _paths.pkg_config}
    try:
        parts = [render[flag]() for flag in flags]
    except FileNotFoundError as error:
        parser.exit(1, f"pygd: {error}\n")
    if "pkg_config" in flags:
        print("\n".join(parts), end="")
    else:
        print(" ".join(parts))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    c_abi = [flag for flag in ("cflags", "libs", "include_dir", "library", "pkg_config") if getattr(args, flag)]
    if c_abi:
        return _c_abi(parser, c_abi)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    # the command's own parser, so that an error reads "pygd bench: error: ..."
    status: int = args.handler(args.command_parser, args, argv)
    return status
