"""`python -m bench [--quick | --n N] ...`: run the benchmarks and write BENCHMARKS.md."""

import argparse
import json
import sys
from pathlib import Path

from bench import report
from bench.run import Options, as_json, log, quoted_command, run

DEFAULT_CONTENDERS = ("pure", "aiokafka", "quix", "ceiling", "faust1", "faust2")
# `cities` (bench/cities.py) takes minutes: on with --cities or --only.
CONTENDERS = (*DEFAULT_CONTENDERS, "cities")


def city_sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(size) for size in text.split(",") if size)
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("expected city counts, e.g. 1000,10000,100000")
    return sizes


def rates(text: str) -> tuple[int, ...]:
    """`--latency-rates`: "1000,5000" -> (1000, 5000), each a positive whole number."""
    try:
        chosen = tuple(int(rate) for rate in text.split(",") if rate.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not whole numbers: {text!r}") from None
    if not chosen or min(chosen) <= 0:
        raise argparse.ArgumentTypeError(f"rates must be positive readings/s: {text!r}")
    return chosen


def parse(argv: list[str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--n", type=int, default=None, help="raw readings (default 200000)")
    parser.add_argument(
        "--quick", action="store_true", help="20,000 readings, 5 s latency a rate, 8 s profile"
    )
    parser.add_argument(
        "--latency-rates",
        type=rates,
        default=Options.latency_rates,
        help="comma-separated readings/s, a latency run each (1000,5000)",
    )
    parser.add_argument("--latency-seconds", type=float, default=None, help="seconds (20)")
    parser.add_argument(
        "--latency-warmup-seconds",
        type=float,
        default=None,
        help="seconds at the rate before the counted ones (10)",
    )
    parser.add_argument("--profile-seconds", type=int, default=None, help="py-spy seconds (20)")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency run")
    parser.add_argument(
        "--no-pin",
        action="store_true",
        help="latency runs on shared cores (default: the process fed on a core of its own)",
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_CONTENDERS),
        help=f"comma-separated subset of {CONTENDERS}",
    )
    parser.add_argument(
        "--cities",
        type=city_sizes,
        default=None,
        help="also run `cities` with these sizes (default 1000,10000,100000)",
    )
    parser.add_argument("--broker", help="use this broker (host:port) instead of starting one")
    parser.add_argument("--output", type=Path, default=None, help="markdown (BENCHMARKS.md)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs here")
    args = parser.parse_args(argv)
    chosen = tuple(name for name in args.only.split(",") if name)
    if args.cities is not None and "cities" not in chosen:
        chosen = (*chosen, "cities")
    unknown = set(chosen) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {sorted(unknown)}")
    options = Options(command=quoted_command(argv), contenders=chosen)
    if args.quick:
        options.n, options.latency_seconds, options.profile_seconds = 20_000, 5.0, 8
    if args.n is not None:
        options.n = args.n
    if options.n < 100:
        parser.error("--n must be at least 100")
    if args.latency_seconds is not None:
        options.latency_seconds = args.latency_seconds
    if args.latency_warmup_seconds is not None:
        options.latency_warmup_seconds = args.latency_warmup_seconds
    if args.profile_seconds is not None:
        options.profile_seconds = args.profile_seconds
    options.latency_rates = args.latency_rates
    options.profile = not args.no_profile
    options.latency = not args.no_latency
    options.pin = not args.no_pin
    options.broker = args.broker
    options.workdir = args.workdir
    if args.output is not None:
        options.output = args.output
    options.json_output = args.json
    if args.cities is not None:
        options.city_sizes = args.cities
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    result = run(options)
    print(report.text_summary(result))
    report.write(result, options.output)
    log(f"wrote {options.output}")
    if options.json_output:
        options.json_output.write_text(json.dumps(as_json(result), indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
