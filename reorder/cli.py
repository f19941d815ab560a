"""The command line: a thin click layer over the library. Data goes to stdout, everything else to stderr."""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

import click

# torch's OpenMP threads spin while waiting by default; on a busy 2-core machine that made embedding
# 5-10x slower in experiments/bench_speed.py. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ._version import __version__
from .errors import ReorderError
from .evaluation import METHODS as EVALUATION_METHODS
from .files import read_text, write_atomically, write_output
from .partitions import PARTITION_SIZE
from .search import METHODS as SEARCH_METHODS
from .search import Constraints

logger = logging.getLogger("reorder")


def _fail_cleanly(func):
    """Turn the library's errors (and unreadable files) into one-line messages with exit code 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ReorderError as exc:
            raise click.ClickException(str(exc)) from exc
        except BrokenPipeError:
            # The reader went away (`reorder order FILE | head`): stop quietly, as cat and grep do,
            # and keep Python from complaining again when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)) from exc
        except MemoryError as exc:
            raise click.ClickException("out of memory; try a smaller input or --search heuristic") from exc
        except UnicodeError as exc:  # the output cannot be written in --encoding (e.g. idna)
            raise click.ClickException(f"cannot write the output: {' '.join(str(exc).split())}") from exc

    return wrapper


def _setup_logging(verbose: int, quiet: bool) -> None:
    if quiet:
        level = logging.ERROR
    else:
        level = logging.INFO if verbose == 1 else logging.DEBUG if verbose > 1 else logging.WARNING
    logging.basicConfig(level=level, format="reorder: %(message)s", stream=sys.stderr, force=True)
    for handler in logging.getLogger().handlers:  # also for libraries that set their own loggers' levels
        handler.setLevel(level)
    logging.getLogger("reorder").setLevel(level)
    if not verbose:
        for noisy in ("sentence_transformers", "transformers", "huggingface_hub", "torch"):
            logging.getLogger(noisy).setLevel(logging.ERROR)


def model_options(func):
    """Options shared by every command that scores orders: model, embedder, search, cache."""
    options = [
        click.option("--model", "model", default=None, metavar="NAME|DIR",
                     help="Shipped: 'news' (default; mpnet), 'news-reader' (news plus a fine-tuned reader), "
                          "'news-minilm' (fastest; the default without mpnet); a directory from `reorder train`; "
                          "or 'similarity' (unsupervised)."),
        click.option("--embedder", default=None, metavar="NAME|DIR",
                     help="Sentence-transformers model: all-mpnet-base-v2 or all-MiniLM-L6-v2 (packaged, "
                          "offline), a local directory, or a hub name (needs internet). Default: the one "
                          "the coherence model was trained with."),
        click.option("--search", "method", type=click.Choice(SEARCH_METHODS),
                     default="auto", show_default=True,
                     help="Solver: auto is exact (subset DP, then CP-SAT) where a proof is cheap, else heuristic."),
        click.option("--time-limit", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
                     help="Seconds the search may spend beyond the exact range."),
        click.option("--weights", default=None, metavar="F,P,POS", callback=_parse_weights,
                     help="Weights of the follows, precedes and position scores in the objective, e.g. "
                          "0,1,1. Default: the model's tuned weights (see the signature)."),
        click.option("--all-content", is_flag=True, help="No roles: every unit is content (headline, furniture)."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of the randomised search."),
        click.option("--cache", type=click.Path(dir_okay=False), default=None,
                     help="SQLite file caching embeddings between runs."),
        click.option("-v", "--verbose", count=True, help="More messages on stderr (-vv for debug)."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parse_weights(ctx, param, value):
    """'F,P,POS' -> {"follows": F, "precedes": P, "position": POS}: three finite numbers >= 0, not all 0."""
    if value is None:
        return None
    parts = [part.strip() for part in value.split(",")]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 3 or not all(math.isfinite(x) and x >= 0 for x in numbers) or not any(numbers):
        raise click.BadParameter(f"{value!r}: give three numbers >= 0, not all 0, for follows,precedes,position "
                                 "(e.g. 0,1,1)")
    return dict(zip(("follows", "precedes", "position"), numbers))


def _reorderer(model, embedder, method, time_limit, seed, cache, weights=None, **kwargs):
    from .pipeline import Reorderer

    return Reorderer(model=model, embedder=embedder, method=method, time_limit=time_limit, seed=seed,
                     cache=cache, weights=weights, **kwargs)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reorder")
def main() -> None:
    """Restore a plausible order to scrambled paragraphs or sentences, and score coherence."""


@main.command()
@click.argument("file", type=str)
@click.option("-o", "--output", default=None, metavar="OUT", help="Write here instead of stdout ('-' for stdout).")
@click.option("--in-place", is_flag=True, help="Replace FILE atomically with the reordered text.")
@click.option("--backup", default=None, metavar="SUFFIX", help="With --in-place, keep the original as FILE+SUFFIX.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--unit", type=click.Choice(["paragraph", "line", "sentence"]), default="paragraph", show_default=True,
              help="What to reorder: blank-line separated paragraphs, lines, or sentences.")
@click.option("--furniture", type=click.Choice(["keep", "drop", "end"]), default="keep", show_default=True,
              help="Page furniture (Share, Advertisement, captions) keeps its slots, is dropped, or goes last.")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the input and output.")
@click.option("--first", "first_unit", type=click.IntRange(min=0), default=None, metavar="N",
              help="Pin unit N first. Units are numbered from 0 in the text's order, as in --format json's "
                   "units[].index; constraints name content units only.")
@click.option("--last", "last_unit", type=click.IntRange(min=0), default=None, metavar="N", help="Pin unit N last.")
@click.option("--before", "before", multiple=True, metavar="A:B", help="Unit A must come before unit B (repeatable).")
@click.option("--group", "groups", multiple=True, metavar="I,J,...",
              help="Keep these units together, in this order (repeatable; a unit in one group at most).")
@click.option("--alternatives", type=click.IntRange(min=1), default=None, metavar="K",
              help="Also give the K best distinct orders and their objective values (JSON, or stderr).")
@click.option("--confidence", is_flag=True,
              help="Also give each position's confidence: the share of the best orders, weighted by "
                   "exp(objective - best), that agree with the chosen unit there (JSON, or stderr).")
@click.option("--explain", is_flag=True,
              help="Also give the main reasons behind each chosen transition (JSON, or stderr).")
@click.option("--html", "html_report", default=None, metavar="REPORT",
              help="Also write a self-contained HTML report to REPORT: the restored order with moves, roles and "
                   "confidence, weak links and why, the verdicts of both orders, alternatives ('-': to stdout, "
                   "instead of the text).")
@model_options
@_fail_cleanly
def order(file, output, in_place, backup, fmt, unit, furniture, all_content, encoding, first_unit, last_unit,
          before, groups, alternatives, confidence, explain, html_report,
          model, embedder, method, time_limit, weights, seed, cache, verbose, quiet):
    """Reorder FILE ('-' for stdin) and print the text in the restored order.

    Constraints (--first, --last, --before, --group) are honoured exactly by the search. With
    --alternatives, --confidence or --explain, the extra information goes into the JSON output
    (keys alternatives, confidence, explanations), or to stderr so that stdout stays the text.
    """
    _setup_logging(verbose, quiet)
    constraints = _constraints(first_unit, last_unit, before, groups)
    if in_place and (file == "-" or output is not None):
        raise click.UsageError("--in-place needs a FILE and no --output")
    if backup and not in_place:
        raise click.UsageError("--backup only makes sense with --in-place")
    if in_place and fmt == "json":
        raise click.UsageError("--in-place writes text; it cannot be combined with --format json")
    text = read_text(file, encoding)
    reorderer = _reorderer(model, embedder, method, time_limit, seed, cache, weights, unit=unit,
                           roles=not all_content, furniture=furniture)
    if html_report is None:
        result = reorderer.reorder_text(text, constraints, alternatives=alternatives or 0, confidence=confidence,
                                        explain=explain)
    else:
        from .report import REPORT_ALTERNATIVES, order_report, render_report

        report = order_report(reorderer, text, constraints, alternatives=alternatives or REPORT_ALTERNATIVES)
        write_output(render_report(report), html_report, "utf-8")
        if html_report == "-" and output in (None, "-") and not in_place:
            return
        # The report's extras go to stdout (or stderr) only where asked for, as without --html.
        result = replace(report.result, alternatives=report.result.alternatives if alternatives else (),
                         confidence=report.result.confidence if confidence else None,
                         explanations=report.result.explanations if explain else None)
    if len(result.units) == 0:
        logger.warning("the input holds no %s: nothing to reorder", unit)
    if fmt == "json":
        write_output(json.dumps(result.to_dict(), ensure_ascii=False, indent=2) + "\n", output, "utf-8")
        return
    _echo_extras(result)
    if in_place:
        write_atomically(Path(file), result.text.encode(encoding, errors="surrogateescape"), backup)
    else:
        write_output(result.text, output, encoding)


@main.command()
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False))
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Evaluate the first N documents only.")
@click.option("--max-units", type=click.IntRange(min=2), default=None, help="Skip documents longer than this.")
@click.option("--method", "methods", default="full", show_default=True,
              help=f"Comma-separated methods to compare in one run: {', '.join(EVALUATION_METHODS)}.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--per-document", is_flag=True, help="With --format json, include every document's scores.")
@click.option("--with-title", is_flag=True, help="Add each record's title as a shuffled unit (see title_first).")
@model_options
@_fail_cleanly
def evaluate(corpus, limit, max_units, methods, fmt, per_document, with_title, model, embedder, method, time_limit,
             weights, all_content, seed, cache, verbose, quiet):
    """Shuffle each document of CORPUS (JSONL) with --seed, restore it, and report order metrics:
    Kendall tau, perfect-match ratio, positional, first/last-unit and pairwise accuracy, as macro
    averages overall and per length bucket, with the signature of each method."""
    from tqdm import tqdm

    from .coherence import SIMILARITY
    from .corpus import read_corpus
    from .embedding import default_cache_path
    from .evaluation import BASELINES, baseline_signature, single_term_weights
    from .evaluation import evaluate as evaluate_baseline

    _setup_logging(verbose, quiet)
    names = [m.strip() for m in methods.split(",") if m.strip()]
    unknown = [m for m in names if m not in EVALUATION_METHODS]
    if unknown or not names:
        raise click.BadParameter(f"unknown method {unknown[0] if unknown else methods!r}; choose from "
                                 f"{', '.join(EVALUATION_METHODS)}", param_hint="--method")
    documents = list(read_corpus(corpus, limit=limit))
    cache = cache or default_cache_path()
    reports = []
    for name in names:
        bar = tqdm(total=len(documents), desc=name, unit="doc", file=sys.stderr, disable=quiet or None)
        if name in BASELINES:
            result = evaluate_baseline(name, documents, seed=seed, max_units=max_units, progress=bar.update,
                                       signature=baseline_signature(name, seed), with_title=with_title)
        else:
            reorderer = _reorderer(SIMILARITY if name == "similarity" else model, embedder, method, time_limit, seed,
                                   cache, single_term_weights(name) or weights, roles=not all_content)
            result = reorderer.evaluate(documents, max_units=max_units, progress=bar.update, with_title=with_title)
        bar.close()
        report = {"method": name, "corpus": os.path.basename(corpus), **result.to_dict()}
        if per_document:
            report["documents"] = result.rows
        reports.append(report)
    if fmt == "json":
        click.echo(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
        return
    keys = ("tau", "pmr", "positional", "first", "last", "pairwise")
    click.echo(f"{'method':<11} {'bucket':<7} {'docs':>5} " + " ".join(f"{k:>10}" for k in keys))
    for report in reports:
        for bucket, values in [("all", report["overall"]), *report["buckets"].items()]:
            click.echo(f"{report['method']:<11} {bucket:<7} {int(values['docs']):>5} "
                       + " ".join(f"{values[k]:>10.4f}" for k in keys))
    for report in reports:
        titles = f" | title first {report['title_first']:.1%} of {report['titled']}" if "titled" in report else ""
        click.echo(f"# {report['method']}: {report['signature']} | proven optimal {report['proven_optimal']:.1%}"
                   f"{titles} | {report['seconds']:.1f} s", err=True)


@main.command()
@click.argument("corpora", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False), help="Model directory to write.")
@click.option("--dev", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Ordered corpus to tune the objective's weights on (never a test split).")
@click.option("--dev-limit", type=click.IntRange(min=1), default=300, show_default=True,
              help="Dev documents (of at most 15 units, where the search is exact and fast) used for tuning.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Use the first N documents of each corpus.")
@click.option("--hidden", type=click.IntRange(min=1), default=128, show_default=True,
              help="Hidden units per perceptron.")
@click.option("--max-pairs", type=click.IntRange(min=1), default=60, show_default=True,
              help="Precedence pairs sampled per document.")
@click.option("--members", type=click.IntRange(min=1), default=5, show_default=True,
              help="Perceptron triples in the ensemble (each from its own seed; averaged).")
@click.option("--embedder", default=None, metavar="NAME|DIR",
              help="Sentence-transformers model: all-MiniLM-L6-v2 (default), all-mpnet-base-v2 (the shipped "
                   "news model's; about 4x slower to embed), a local directory or a hub name.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--cache", type=click.Path(dir_okay=False), default=None,
              help="SQLite embedding cache (default: $REORDER_CACHE or ~/.cache/reorder/embeddings.sqlite).")
@click.option("-v", "--verbose", count=True)
@click.option("-q", "--quiet", is_flag=True)
@_fail_cleanly
def train(corpora, output, dev, dev_limit, limit, hidden, max_pairs, members, embedder, seed, cache, verbose, quiet):
    """Train a coherence model on ordered JSONL CORPORA and write it to --output."""
    from tqdm import tqdm

    from .training import train as train_model

    _setup_logging(verbose, quiet)
    bars = []

    def progress(stage, total):
        bars.append(tqdm(total=total, desc=stage, unit="doc" if total else "combo", file=sys.stderr,
                         disable=quiet or None))
        return bars[-1].update

    try:
        _, weights, rows, tuned_on = train_model(
            corpora, output, dev=dev, dev_limit=dev_limit, limit=limit, embedder=embedder, cache=cache,
            hidden=hidden, max_pairs=max_pairs, members=members, seed=seed, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    if rows:
        click.echo(f"tuned on {os.path.basename(dev)} ({tuned_on} docs): {weights}, "
                   f"tau {max(r['tau'] for r in rows):.4f}", err=True)
    click.echo(f"wrote {output}", err=True)


# --- order's constraints and extras; the score command ----------------------------------------------


def _unit_index(text: str, option: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a unit index (an integer >= 0)", param_hint=option) from None
    if value < 0:
        raise click.BadParameter(f"unit indices are >= 0; got {value}", param_hint=option)
    return value


def _constraints(first, last, before, groups):
    """Constraints from order's options, in the text's unit indices; None when there are none."""
    pairs = []
    for item in before:
        parts = item.split(":")
        if len(parts) != 2:
            raise click.BadParameter(f"expected A:B (two unit indices), got {item!r}", param_hint="--before")
        pairs.append((_unit_index(parts[0], "--before"), _unit_index(parts[1], "--before")))
    members = [tuple(_unit_index(u, "--group") for u in item.split(",")) for item in groups]
    if first is None and last is None and not pairs and not members:
        return None
    return Constraints(first=first, last=last, before=tuple(pairs), groups=tuple(members))


def _preview(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def _echo_extras(result) -> None:
    """Print order's extras on stderr, so that stdout stays the reordered text."""
    if result.alternatives:
        click.echo("alternatives (rank, objective, content units in order):", err=True)
        for item in result.alternatives:
            proven = "" if item.optimal else " (not proven)"
            click.echo(f"  {item.rank:>3}  {item.value:>10.3f}  "
                       f"{' '.join(map(str, item.content_order))}{proven}", err=True)
    if result.confidence is not None:
        click.echo("confidence (position, unit, share of the best orders that agree):", err=True)
        for k, (index, share) in enumerate(zip(result.content_order, result.confidence)):
            click.echo(f"  {k:>3}  {index:>4}  {share:.2f}  {_preview(result.units[index])}", err=True)
    if result.explanations is not None:
        click.echo("explanations (why each unit follows the one before):", err=True)
        for item in result.explanations:
            click.echo(f"  {item.source} -> {item.target}: {_preview(result.units[item.target])}", err=True)
            for reason in item.reasons:
                click.echo(f"      + {reason}", err=True)
            for reason in item.against:
                click.echo(f"      - {reason}", err=True)


@main.command()
@click.argument("file", type=str)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--unit", type=click.Choice(["paragraph", "line", "sentence"]), default="paragraph", show_default=True,
              help="What to assess: blank-line separated paragraphs, lines, or sentences.")
@click.option("--samples", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Random orders the given order is compared with (all orders when n! is no more).")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of the input.")
@click.option("--html", "html_report", default=None, metavar="REPORT",
              help="Also write a self-contained HTML report to REPORT: the units in their order, the weak links "
                   "and why, the verdict ('-': to stdout, instead of the scores).")
@model_options
@_fail_cleanly
def score(file, fmt, unit, all_content, samples, encoding, html_report, model, embedder, method, time_limit, weights,
          seed, cache, verbose, quiet):
    """Rate the order FILE ('-' for stdin) already has: is it coherent, and where does it break?

    \b
    score       the objective normalised between the average random order (0) and the best order found (1)
    p_value     share of random orders of the same units at least as good (small: coherent)
    order z     how far (in standard deviations) the given order's adjacency, precedence and lead/ending
                likelihoods lie above those of random orders (about 0 for a shuffled text)
    best z      the order z of the best order found: how clearly the model reads these units
    scrambled   the order z is below a threshold that rises with the best z, calibrated on news-dev
    transitions per adjacent pair of content units: P(next follows), its rank among the candidates, weak flag
    """
    from .assessment import WEAK_TRANSITION_PROBABILITY

    _setup_logging(verbose, quiet)
    text = read_text(file, encoding)
    reorderer = _reorderer(model, embedder, method, time_limit, seed, cache, weights, unit=unit, roles=not all_content)
    if html_report is None:
        result = reorderer.assess_text(text, samples=samples)
    else:
        from .report import render_report, score_report

        report = score_report(reorderer, text, samples=samples)
        write_output(render_report(report), html_report, "utf-8")
        if html_report == "-":
            return
        result = report.given
    content = result.roles.count("content")
    if content < 2:
        logger.warning("the input holds %d content %s: nothing to assess", content, unit)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    exact = "all" if result.exact else "random"
    click.echo(f"score      {result.score:.3f}   "
               "(0 = no better than an average random order, 1 = the best order found)")
    click.echo(f"p-value    {result.p_value:.4f}  (share of {result.samples} {exact} orders at least as good)")
    click.echo(f"order z    {result.order_z:.2f}   (links {result.z_follows:.2f}, precedence {result.z_precedes:.2f}, "
               f"lead/ending {result.z_position:.2f}; about 0 for a random order)")
    click.echo(f"best z     {result.best_z:.2f}   (the best order found; how clearly the model reads these units)")
    click.echo(f"scrambled  {'yes' if result.scrambled else 'no'}      "
               f"(order z {result.order_z:.2f} {'<' if result.scrambled else '>='} threshold {result.threshold:.2f}, "
               "which rises with the best z)")
    if result.transitions:
        click.echo(f"transitions (! = weak: P(next follows) < {WEAK_TRANSITION_PROBABILITY:g}; rank among candidates):")
    candidates = max(content - 1, 1)
    if result.transitions:
        click.echo(f"         {result.order[0]:>4}               opens   {_preview(result.units[result.order[0]])}")
    for t in result.transitions:
        mark = "!" if t.weak else " "
        click.echo(f"  {mark} {t.source:>4} -> {t.target:<4} P {t.probability:.2f}  rank {t.rank:>3}/{candidates}  "
                   f"{_preview(result.units[t.target])}")
    click.echo(f"# {result.signature}", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but this machine's own (127.0.0.1, localhost, ::1) is warned about.")
@click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True)
@model_options
@_fail_cleanly
def serve(host, port, model, embedder, method, time_limit, weights, all_content, seed, cache, verbose, quiet):
    """Serve a page (and a JSON API) that orders pasted texts and re-solves as the user pins units.

    \b
    GET  /            the page: paste or open a text, order it, pin units, say "A before B"
    POST /api/order   {"text", "unit", "constraints", "alternatives", "confidence", "explain", "html"}
                      -> what `order --format json` prints, plus assessment, unconstrained_objective, cost
    POST /api/score   {"text", "unit", "samples", "explain", "html"} -> what `score --format json` prints
    GET  /api/info    the signature and the limits

    The models load once, before it listens. It answers only requests for its own address, refuses
    cross-origin POSTs, texts over 1 MB, and reads no file on the server.
    """
    from .server import LOCAL_HOSTS
    from .server import serve as run_server

    _setup_logging(verbose, quiet)
    if host not in LOCAL_HOSTS:
        logger.warning("listening on %s: anyone who can reach this machine there can use the server (it has no "
                       "authentication); the default, 127.0.0.1, is this machine only", host)
    reorderer = _reorderer(model, embedder, method, time_limit, seed, cache, weights, roles=not all_content)
    run_server(reorderer, host=host, port=port, log_level="debug" if verbose > 1 else "info" if verbose else "warning")


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("-o", "--output", default="-", show_default=True, metavar="OUT", help="JSONL results ('-' for stdout).")
@click.option("--output-dir", default=None, metavar="DIR",
              help="One part file per input partition and a manifest; rerunning skips the parts already complete.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this machine (joblib processes); dask: a dask.distributed cluster.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (local, or the LocalCluster's); each loads the models once.")
@click.option("--scheduler", default=None, metavar="ADDRESS", help="With --engine dask: an existing cluster.")
@click.option("--partition-size", type=click.IntRange(min=1), default=PARTITION_SIZE, show_default=True,
              help="Records per partition: the unit of work, of embedding and of resuming.")
@click.option("--strict", is_flag=True, help="Stop at the first bad record instead of writing an error record.")
@model_options
@_fail_cleanly
def batch(inputs, output, output_dir, engine, workers, scheduler, partition_size, strict, model, embedder, method,
          time_limit, weights, all_content, seed, cache, verbose, quiet):
    """Order every document of JSONL INPUTs (files, globs, .gz, '-' for stdin); one JSON line each out.

    A record's units are under "paragraphs" (or "units"/"sentences"); a result holds its "id", the
    "permutation", "heading" (the headline's index, set first, or null), "objective", "optimal", "method"
    and "signature". A bad record becomes an error record ("source", "line", "error") and the batch goes
    on, exiting with 1 (--strict: stop at it).
    """
    from tqdm import tqdm

    from .batch import run_batch

    _setup_logging(verbose, quiet)
    if output_dir is not None and output != "-":
        raise click.UsageError("give -o/--output or --output-dir, not both")
    params = {"model": model, "embedder": embedder, "method": method, "time_limit": time_limit, "seed": seed,
              "cache": cache, "weights": weights, "roles": not all_content}
    with tqdm(desc="ordering", unit="doc", file=sys.stderr, disable=quiet or None) as bar:
        summary = run_batch(inputs, params, output=output, output_dir=output_dir, engine=engine, workers=workers,
                            scheduler=scheduler, partition_size=partition_size, strict=strict, progress=bar.update)
    click.echo("\n".join(summary.report()), err=True)
    if summary.errors:
        raise click.ClickException(f"{summary.errors} records could not be ordered (error records in the output; "
                                   "--strict stops at the first)")


if __name__ == "__main__":  # pragma: no cover
    main()
