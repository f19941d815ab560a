"""Embed every unit of the given corpora once into the embedding cache, so experiments start fast.

    python experiments/warm_cache.py ../shared/corpora/news-dev.jsonl [...] \\
        [--embedder NAME] [--limit N] [--cache PATH]
"""

from __future__ import annotations

import argparse
import time

from reorder import CachedEmbedder, default_cache_path, load_embedder, read_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpora", nargs="+")
    parser.add_argument("--cache", default=None)
    parser.add_argument("--embedder", default=None)
    parser.add_argument("--limit", type=int, default=None, help="first N documents of each corpus")
    args = parser.parse_args()
    embedder = CachedEmbedder(load_embedder(args.embedder, batch_size=64),
                              args.cache or default_cache_path())
    for path in args.corpora:
        start = time.perf_counter()
        texts = [u for doc in read_corpus(path, limit=args.limit) for u in doc.units]
        for i in range(0, len(texts), 2048):
            embedder.encode(texts[i : i + 2048])
        print(f"{path}: {len(texts)} units in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
