"""Each kernel's duration from an `ncu --metrics gpu__time_duration.sum` log,
in launch order, as a markdown table (used by scripts/bench_kernels.sh --ncu)."""
import re
import sys

UNITS = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}


def main(path):
    rows, name = [], None
    for line in open(path, errors="replace"):
        head = re.match(r"^  (\S.*?) \((\d+, \d+, \d+)\)x\((\d+, \d+, \d+)\), Context", line)
        if head:
            name = f"{head.group(1)} grid ({head.group(2)}) block ({head.group(3)})"
            continue
        m = re.match(r"^\s+gpu__time_duration\.sum\s+(\w+)\s+([\d.,]+)", line)
        if m and name:
            rows.append((name, float(m.group(2).replace(",", "")) * UNITS[m.group(1)]))
            name = None
    print("| # | kernel | us |\n|---|---|---|")
    for i, (n, us) in enumerate(rows):
        n = re.sub(r"scalelab::kernels::cuda::", "", n)
        print(f"| {i} | {n[:150]} | {us:.1f} |")


if __name__ == "__main__":
    main(sys.argv[1])
