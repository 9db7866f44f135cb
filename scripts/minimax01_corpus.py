#!/usr/bin/env python3
"""Writes the text corpus of configs/reproduce_minimax01.csv as .jsonl documents.

Every source is English prose or technical writing shipped by a Debian package
(main archive, DFSG-free), so the corpus is the same on any Debian 12 machine:

  kjv       bible-kjv        the King James Bible, 50 verses a document
  gcide     dict-gcide       the Collaborative International Dictionary of English
                             (Webster's 1913 + WordNet), about 8 KiB a document
  linux     linux-doc-6.1    the kernel's documentation, reStructuredText, a file a document
  python    python3.11-doc   the Python 3.11 documentation, reStructuredText, a file a document
  perl      perl-doc         Perl's documentation, POD, a file a document
  fortunes  fortunes         fortune cookies, 20 a document

usage: minimax01_corpus.py DEB_ROOT OUT_DIR
DEB_ROOT holds one folder per package, each the package extracted with `dpkg -x`
(scripts/minimax01_data.sh makes it). Documents longer than 8 KiB are cut at
blank lines, so the held-out split (by document hash) samples every source.
"""
import glob
import gzip
import json
import os
import re
import subprocess
import sys

CHUNK = 8192


def chunks(text, limit=CHUNK):
    """Cuts TEXT at blank lines into pieces of about LIMIT characters."""
    out, cur, size = [], [], 0
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        cur.append(para)
        size += len(para) + 2
        if size >= limit:
            out.append("\n\n".join(cur))
            cur, size = [], 0
    if cur:
        out.append("\n\n".join(cur))
    return out


def read(path):
    opener = gzip.open if path.endswith((".gz", ".dz")) else open  # dictzip is gzip
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read().replace("\x00", "")


def one(root, pattern):
    hits = sorted(glob.glob(os.path.join(root, pattern), recursive=True))
    if not hits:
        sys.exit(f"minimax01_corpus: nothing matches {root}/{pattern}: is the package extracted?")
    return hits


def kjv(root):
    # bible-kjv ships a binary index; its `bible` program prints the text, which
    # scripts/setup.sh writes to the built-in corpus file: read that file.
    path = os.environ.get("SCALELAB_DATA") or os.path.expanduser("~/.cache/scalelab/data/kjv.txt")
    if not os.path.isfile(path):
        sys.exit(f"minimax01_corpus: {path} missing: run scripts/setup.sh first")
    lines = [l for l in read(path).splitlines() if l.strip()]
    return ["\n".join(lines[i:i + 50]) for i in range(0, len(lines), 50)]


def gcide(root):
    text = read(one(root, "dict-gcide*/usr/share/dictd/gcide.dict.dz")[0])
    # Drop the per-sense source tags ("[1913 Webster]", 100k+ of them) and the
    # layout indentation, which would otherwise be the easiest tokens.
    text = re.sub(r"(?m)^[ \t]*\[[^\]\n]{1,40}\][ \t]*\n", "", text)
    text = re.sub(r"(?m)^[ \t]+", "", text)
    return chunks(text)


def files(root, pattern):
    docs = []
    for p in one(root, pattern):
        docs.extend(chunks(read(p)))
    return docs


def fortunes(root):
    docs = []
    for p in one(root, "fortunes_*/usr/share/games/fortunes/*"):
        if "." in os.path.basename(p):  # the .dat indexes and .u8 links
            continue
        items = [f.strip() for f in read(p).split("\n%\n") if f.strip()]
        docs.extend("\n\n".join(items[i:i + 20]) for i in range(0, len(items), 20))
    return docs


SOURCES = {
    "kjv": kjv,
    "gcide": gcide,
    "linux": lambda r: files(r, "linux-doc-6.1_*/usr/share/doc/linux-doc-6.1/html/_sources/**/*.rst.txt"),
    "python": lambda r: files(r, "python3.11-doc_*/usr/share/doc/python3.11/html/_sources/**/*.rst.txt"),
    "perl": lambda r: files(r, "perl-doc_*/usr/share/perl/*/pod/*.pod"),
    "fortunes": fortunes,
}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    root, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    total = 0
    for name, fn in SOURCES.items():
        docs = fn(root)
        size = sum(len(d) for d in docs)
        total += size
        tmp = os.path.join(out, f".{name}.jsonl.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
        os.replace(tmp, os.path.join(out, f"{name}.jsonl"))
        print(f"minimax01_corpus: {name:9s} {len(docs):7d} documents {size / 1e6:7.1f} MB")
    print(f"minimax01_corpus: total {total / 1e6:.1f} MB in {out}")


if __name__ == "__main__":
    main()
