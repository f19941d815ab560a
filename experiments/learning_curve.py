"""Learning curves of a fine-tuned pair model (issue 14): pair accuracy and tau on news-dev against CPU time.

    python experiments/learning_curve.py ../shared/corpora --design bi --base minilm --minutes 25 \\
        --eval-every 5 --out experiments/results/curves/bi-minilm

Designs (both fine-tune the whole transformer, with a small head, on the natural order of
news-train and news-train-web; labels: precedence "i before j" and adjacency "j right after i"):

- ``bi``: a bi-encoder. Each step encodes every paragraph of a window of at most ``--window``
  consecutive paragraphs once (mean pooling) and trains every ordered pair of the window through a
  head over (u, v, u*v, u-v); the precedence score is antisymmetric by construction (s(i,j) - s(j,i)).
  Scoring a document costs n encodings.
- ``cross``: a cross-encoder. Each step reads ``--pairs`` sampled pairs of a window together
  ("A </s> B"), and the pooled state gives the two logits; precedence is antisymmetrised at scoring
  time ((l(i,j) - l(j,i)) / 2). Scoring a document costs n(n-1) pair encodings.
- ``shipped``: no training; the shipped news model measured on the same documents, for reference.

Every ``--eval-every`` CPU minutes, on the first ``--dev-docs`` news-dev documents of 3-20
paragraphs (a fixed set): pair accuracy (P(i before j) > 0.5 for the gold-ordered pairs) and the
Kendall tau of the best order reorder's search finds (exact up to 18 units) for precedence plus
adjacency (weights 1, 1, 0), each document shuffled with ``reorder.shuffle_for(0, k, n)`` first, and
the seconds it took to score a document. CPU time is this process's (all its threads), so runs
compare at equal CPU even on a busy machine; the learning rate decays (cosine) over ``--minutes``.

Each evaluation appends a line to ``OUT/curve.jsonl`` and writes ``OUT/checkpoint.pt`` (tensors and
plain numbers only: it loads with ``torch.load(weights_only=True)``). Rerunning the same command
resumes from the checkpoint, so a long run can span sessions; ``OUT/curve.md`` tabulates the curve
(``--report-only`` writes it for a run that was stopped).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

import reorder
from reorder import PairwiseScores, kendall_tau, objective_from_scores, read_corpus, shuffle_for, solve
from reorder.embedding import default_model_path, mpnet_model_path

BASES = {"minilm": default_model_path, "mpnet": mpnet_model_path}


def _build(args):
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(BASES[args.base]())
    tokenizer = AutoTokenizer.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path)
    d = encoder.config.hidden_size
    width = 4 * d if args.design == "bi" else d
    head = torch.nn.Sequential(torch.nn.Linear(width, args.hidden), torch.nn.GELU(), torch.nn.Linear(args.hidden, 2))
    return tokenizer, torch.nn.ModuleDict({"encoder": encoder, "head": head})


def _pooled(model, tokenizer, first, second=None, max_length=128):
    batch = tokenizer(first, second, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    states = model["encoder"](**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)


def _bi_logits(model, tokenizer, texts):
    """(precedence, adjacency) logits of every ordered pair, shape (n, n) each."""
    import torch

    u = _pooled(model, tokenizer, texts)
    n = u.shape[0]
    a, b = u[:, None, :].expand(n, n, -1), u[None, :, :].expand(n, n, -1)
    s = model["head"](torch.cat([a, b, a * b, a - b], dim=-1))
    return s[..., 0] - s[..., 0].T, s[..., 1]


def _cross_logits(model, tokenizer, texts, pairs, batch=32):
    """(precedence, adjacency) logits of the given ordered pairs, shape (len(pairs),) each."""
    import torch

    out = []
    for k in range(0, len(pairs), batch):
        chunk = pairs[k : k + batch]
        pooled = _pooled(model, tokenizer, [texts[i] for i, _ in chunk], [texts[j] for _, j in chunk], 256)
        out.append(model["head"](pooled))
    s = torch.cat(out)
    return s[:, 0], s[:, 1]


def _labels(pairs):
    import torch

    return (torch.tensor([float(i < j) for i, j in pairs]), torch.tensor([float(j == i + 1) for i, j in pairs]))


def _step_loss(model, tokenizer, args, texts, rng):
    import torch
    from torch.nn.functional import binary_cross_entropy_with_logits as bce

    n = len(texts)
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
    if args.design == "bi":
        precedence, adjacency = _bi_logits(model, tokenizer, texts)
        rows, cols = zip(*pairs)
        precedence, adjacency = precedence[list(rows), list(cols)], adjacency[list(rows), list(cols)]
    else:
        pairs = [pairs[k] for k in rng.choice(len(pairs), size=min(args.pairs, len(pairs)), replace=False)]
        precedence, adjacency = _cross_logits(model, tokenizer, texts, pairs)
    before, after = _labels(pairs)
    weight = torch.tensor(float(max(n - 2, 1)))  # one true successor among n - 1 candidates
    return bce(precedence, before) + bce(adjacency, after, pos_weight=weight)


def _scores(model, tokenizer, args, texts) -> PairwiseScores:
    import torch

    n = len(texts)
    with torch.no_grad():
        if args.design == "bi":
            precedence, adjacency = (x.double().numpy() for x in _bi_logits(model, tokenizer, texts))
        else:
            pairs = [(i, j) for i in range(n) for j in range(n) if i != j]
            p, a = _cross_logits(model, tokenizer, texts, pairs)
            precedence, adjacency = np.zeros((n, n)), np.full((n, n), -np.inf)
            for (i, j), x, y in zip(pairs, p.double().numpy(), a.double().numpy()):
                precedence[i, j], adjacency[i, j] = x, y
            precedence = (precedence - precedence.T) / 2
    precedes = 1.0 / (1.0 + np.exp(-precedence))
    np.fill_diagonal(precedes, 0.5)
    np.fill_diagonal(adjacency, -np.inf)
    follows = np.exp(adjacency - adjacency.max(axis=1, keepdims=True))
    follows /= follows.sum(axis=1, keepdims=True)
    return PairwiseScores(follows=follows, precedes=precedes, position=np.full((n, 3), 1.0 / 3.0))


PAIR_WEIGHTS = {"follows": 1.0, "precedes": 1.0, "position": 0.0}


def _evaluate(model, tokenizer, args, dev) -> dict:
    model.eval()
    result = _measure(lambda texts: _scores(model, tokenizer, args, texts), dev, PAIR_WEIGHTS)
    model.train()
    return result


def _measure(score, dev, weights) -> dict:
    """Pair accuracy, tau of the search's order and seconds per document of ``score`` (texts ->
    PairwiseScores) on the dev documents, each shuffled with shuffle_for(0, k, n)."""
    accuracy, taus, seconds = [], [], []
    for k, units in enumerate(dev):
        n = len(units)
        perm = shuffle_for(0, k, n)
        start = time.perf_counter()
        scores = score([units[i] for i in perm])
        seconds.append(time.perf_counter() - start)
        gold = np.argsort(perm)  # position of each gold unit among the shuffled ones
        precedes = scores.precedes[np.ix_(gold, gold)]  # back in gold order
        accuracy.append(float(np.mean(precedes[np.triu_indices(n, 1)] > 0.5)))
        found = solve(objective_from_scores(scores, weights), time_limit=1.0, seed=0)
        taus.append(kendall_tau([int(perm[i]) for i in found.order], list(range(n))))
    return {"pair_accuracy": float(np.mean(accuracy)), "tau": float(np.mean(taus)),
            "seconds_per_doc": float(np.mean(seconds))}


def _shipped(args, dev) -> None:
    """The shipped news model (frozen mpnet + cues) on the same documents: its own tuned objective,
    and precedence + adjacency alone (the fine-tuned designs' objective)."""
    reorderer = reorder.Reorderer(roles=False)
    weights = reorderer.weights_
    points = {name: _measure(reorderer.pairwise_scores, dev, w)
              for name, w in (("tuned weights", weights), ("precedence + adjacency", PAIR_WEIGHTS))}
    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["# The shipped news model on the learning curves' documents", "",
             "| objective | pair accuracy | tau | s / doc |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {name} | {p['pair_accuracy']:.3f} | {p['tau']:.3f} | {p['seconds_per_doc']:.2f} |"
              for name, p in points.items()]
    reorder.write_results(args.out / "curve", {"points": points}, signature=reorderer.signature(), seed=0,
                          markdown="\n".join(lines))
    print("\n".join(lines))


def _windows(documents, args, seed, start_step):
    """An endless, reproducible stream of windows; step k's window depends on (seed, k) only."""
    step = start_step
    while True:
        rng = np.random.default_rng([seed, step])
        units = documents[int(rng.integers(len(documents)))]
        size = min(len(units), args.window)
        first = int(rng.integers(len(units) - size + 1))
        yield step, units[first : first + size], rng
        step += 1


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpora", type=Path)
    parser.add_argument("--design", choices=["bi", "cross", "lora", "shipped"], default="bi",
                        help="shipped: measure the shipped news model on the same documents (no training)")
    parser.add_argument("--base", choices=sorted(BASES), default="minilm")
    parser.add_argument("--minutes", type=float, default=25.0, help="CPU minutes of training in all")
    parser.add_argument("--eval-every", type=float, default=5.0, help="CPU minutes between evaluations")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--window", type=int, default=8)
    parser.add_argument("--spread", type=float, default=0.0,
                        help="share of steps that draw --window units from the whole document instead of a window")
    parser.add_argument("--pairs", type=int, default=16, help="cross: pairs per step")
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--rank", type=int, default=16, help="lora: rank of the adapters")
    parser.add_argument("--lr", type=float, default=3e-5)
    parser.add_argument("--dev-docs", type=int, default=60)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report-only", action="store_true", help="only tabulate OUT/curve.jsonl (of a stopped run)")
    args = parser.parse_args()
    if args.report_only:
        return _report(args)
    dev = [list(d.units) for d in read_corpus(args.corpora / "news-dev.jsonl") if 3 <= len(d.units) <= 20]
    dev = dev[: args.dev_docs]
    if args.design == "shipped":
        return _shipped(args, dev)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.design == "lora":
        return _lora(args, dev)
    torch.manual_seed(args.seed)
    tokenizer, model = _build(args)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    args.out.mkdir(parents=True, exist_ok=True)
    checkpoint, curve = args.out / "checkpoint.pt", args.out / "curve.jsonl"
    state = {"step": 0, "cpu_s": 0.0, "wall_s": 0.0, "pairs": 0}
    if checkpoint.exists():
        saved = torch.load(checkpoint, weights_only=True)
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        state = {k: saved[k] for k in state}
        print(f"resumed at step {state['step']}, {state['cpu_s'] / 60:.1f} CPU minutes", flush=True)
    training = _training_documents(args)
    budget, every = args.minutes * 60, args.eval_every * 60
    next_eval = (math.floor(state["cpu_s"] / every) + 1) * every
    cpu0, wall0 = time.process_time() - state["cpu_s"], time.perf_counter() - state["wall_s"]
    if state["step"] == 0:
        point = {"step": 0, "cpu_min": 0.0, "wall_min": 0.0, "pairs": 0, **_evaluate(model, tokenizer, args, dev)}
        with curve.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(point) + "\n")
        print(json.dumps(point), flush=True)
        cpu0, wall0 = time.process_time(), time.perf_counter()  # evaluating is not training
    model.train()
    for step, texts, rng in _windows(training, args, args.seed, state["step"]):
        cpu = time.process_time() - cpu0
        for group in optimizer.param_groups:
            group["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * min(cpu / budget, 1.0)))
        loss = _step_loss(model, tokenizer, args, texts, rng)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        n = len(texts)
        state.update(step=step + 1, pairs=state["pairs"] + (n * (n - 1) if args.design == "bi" else
                                                             min(args.pairs, n * (n - 1))))
        cpu = time.process_time() - cpu0
        if cpu < next_eval and cpu < budget:
            continue
        state.update(cpu_s=cpu, wall_s=time.perf_counter() - wall0)
        eval_cpu, eval_wall = time.process_time(), time.perf_counter()
        point = {"step": state["step"], "cpu_min": cpu / 60, "wall_min": state["wall_s"] / 60,
                 "pairs": state["pairs"], "loss": loss.item(), **_evaluate(model, tokenizer, args, dev)}
        cpu0 += time.process_time() - eval_cpu  # evaluating is not training
        wall0 += time.perf_counter() - eval_wall
        with curve.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(point) + "\n")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), **state}, checkpoint)
        print(json.dumps(point), flush=True)
        next_eval += every
        if cpu >= budget:
            break
    _report(args)


def _training_documents(args):
    return [list(d.units) for path in ("news-train.jsonl", "news-train-web.jsonl")
            for d in read_corpus(args.corpora / path) if len(d.units) >= 2]


def _lora(args, dev) -> None:
    """The bi-encoder with low-rank adapters (reorder.finetuned), the design that can ship."""
    import torch

    from reorder.finetuned import PairReader, fine_tune

    torch.manual_seed(args.seed)
    reader = PairReader.build(BASES[args.base](), rank=args.rank, hidden=args.hidden)
    args.out.mkdir(parents=True, exist_ok=True)
    curve, checkpoint = args.out / "curve.jsonl", args.out / "checkpoint.pt"

    def point(state: dict) -> None:
        measured = _measure(reader.scores, dev, PAIR_WEIGHTS)
        row = {"step": state["step"], "cpu_min": state["cpu_s"] / 60, "wall_min": state["wall_s"] / 60,
               "pairs": state["pairs"], "loss": state["loss"], **measured}
        with curve.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)

    if not checkpoint.exists():
        reader.train(False)
        point({"step": 0, "cpu_s": 0.0, "wall_s": 0.0, "pairs": 0, "loss": float("nan")})
    fine_tune(reader, _training_documents(args), checkpoint, minutes=args.minutes, every=args.eval_every,
              lr=args.lr, window=args.window, spread=args.spread, seed=args.seed, callback=point)
    reader.save(args.out / "reader", extra={"trained": {k: str(v) for k, v in vars(args).items()}})
    _report(args)


def _report(args) -> None:
    """OUT/curve.md and OUT/curve.json from OUT/curve.jsonl."""
    curve = args.out / "curve.jsonl"
    points = [json.loads(line) for line in curve.read_text(encoding="utf-8").splitlines()]
    lines = [f"# Learning curve: {args.design}-encoder on {args.base}", "",
             "| CPU min | wall min | steps | pairs | pair accuracy | tau | s / doc |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    lines += [f"| {p['cpu_min']:.1f} | {p['wall_min']:.1f} | {p['step']} | {p['pairs']} | {p['pair_accuracy']:.3f} | "
              f"{p['tau']:.3f} | {p['seconds_per_doc']:.2f} |" for p in points]
    reorder.write_results(args.out / "curve", {"points": points, "args": {k: str(v) for k, v in vars(args).items()}},
                          signature=f"reorder:{reorder.__version__}|curve:{args.design}-{args.base}|seed:{args.seed}",
                          seed=args.seed, markdown="\n".join(lines))


if __name__ == "__main__":
    main()
