"""The recall/latency trade-off of approximate indexes, drawn for the notebook."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure


def tradeoff(sweeps: dict[str, pd.DataFrame], exact_ms: float) -> Figure:
    """Recall@10 and median latency against each index's search setting.

    ``sweeps`` maps a label (``"HNSW"``) to ``Scratch.sweep``'s frame, whose first
    column is the setting (``hnsw.ef_search``, ``ivfflat.probes``). Exact search
    is the dashed line: recall 1 by definition, at its own latency.
    """
    figure, (recall_axis, latency_axis) = plt.subplots(
        1, 2, figsize=(10, 3.6), layout="constrained"
    )
    for label, frame in sweeps.items():
        setting = frame.columns[0]
        name = f"{label} ({setting})"
        recall_axis.plot(frame[setting], frame["recall"], marker="o", label=name)
        latency_axis.plot(frame[setting], frame["ms"], marker="o", label=name)
    recall_axis.axhline(1.0, color="gray", linestyle="--", label="exact")
    latency_axis.axhline(exact_ms, color="gray", linestyle="--", label="exact")
    for axis, title in ((recall_axis, "recall@10"), (latency_axis, "median ms per query")):
        axis.set_xscale("log", base=2)
        axis.set_xlabel("ef_search / probes (more = search wider)")
        axis.set_title(title)
        axis.grid(alpha=0.3)
    recall_axis.set_ylim(top=1.01)
    latency_axis.set_ylim(bottom=0)
    latency_axis.legend(loc="upper left", fontsize="small")
    return figure
