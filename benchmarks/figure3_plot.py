"""Draws benchmarks/figure3.py's results like Figure 3 of the GFS paper: for reads, writes (and
puts) and record appends, the aggregate MB/s of 1 to N clients on the shaped cluster beside
the network limit and the paper's own ratio of it.

    python benchmarks/figure3_plot.py [benchmarks/results/figure3.json [figure3.png]]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    counts = result["clients"]
    panels = {
        "(a) Reads": {"read": "pygfs, 4 MB reads"},
        "(b) Writes": {"write": "pygfs, 1 MB writes", "put": "pygfs, put (streamed)"},
        "(c) Record appends": {"append": "pygfs, 1 MB records"},
    }
    for ax, (title, lines) in zip(axes, panels.items(), strict=True):
        first = result["shaped"][next(iter(lines))]
        ax.plot(counts, [first["limit"][str(n)] for n in counts], "k--", label="Network limit")
        for op, label in lines.items():
            ax.plot(
                counts,
                [result["shaped"][op]["mb_per_s"][str(n)] for n in counts],
                "o-",
                label=label,
            )
        ratios = result["paper_ratios"][next(iter(lines))]
        paper = [ratios["one" if n == 1 else "many"] * first["limit"][str(n)] for n in counts]
        ax.plot(counts, paper, "x:", color="grey", label="GFS paper's ratio x limit")
        ax.set_title(title)
        ax.set_xlabel("Number of clients N")
        ax.set_xticks(counts)
        ax.set_ylim(bottom=0)
        ax.legend(loc="best", fontsize=7)
    axes[0].set_ylabel("Aggregate throughput (MB/s)")
    fig.suptitle(
        f"pygfs, Figure 3 of the GFS paper: {result['chunkservers']} chunkservers, "
        f"links shaped to {result['mbit']:g} Mbit/s"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "figure3.json"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else source.with_suffix(".png")
    plot(json.loads(source.read_text()), target)
