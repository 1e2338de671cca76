#!/usr/bin/env python3
"""Training curves of an lvm run as a PNG.

    scripts/plot_metrics.py RUN_DIR [-o FILE.png]

Reads RUN_DIR/metrics.csv (one row per epoch, written by `lvm train`) and draws the train and
validation ELBO and the validation KL against the epoch. When RUN_DIR/eval.json holds a "gaps"
object (written by `lvm evaluate`), a third panel shows the inference gaps as bars. Writes
RUN_DIR/metrics.png unless -o is given. Needs matplotlib (Debian: python3-matplotlib).
Exit codes: 0 written, 2 bad input (missing or malformed files), 1 anything else.
"""

import argparse
import csv
import json
import math
import os
import sys
import tempfile

REQUIRED_COLUMNS = ("epoch", "train_elbo", "val_elbo", "val_kl")
GAP_KEYS = ("elbo_encoder", "elbo_refined", "log_px", "amortisation_gap", "approximation_gap")


class InputError(Exception):
    """Bad input; the message names the file and what is wrong."""


def read_metrics(path):
    if not os.path.exists(path):
        raise InputError(f"{path}: not found (is this a run directory written by `lvm train`?)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise InputError(f"{path}: no epochs recorded yet")
    missing = [c for c in REQUIRED_COLUMNS if c not in rows[0]]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    columns = {c: [] for c in REQUIRED_COLUMNS}
    for line, row in enumerate(rows, start=2):
        for c in REQUIRED_COLUMNS:
            try:
                columns[c].append(float(row[c]))
            except (TypeError, ValueError):
                raise InputError(f"{path}:{line}: {c}: expected a number, got {row[c]!r}") from None
    return columns


def read_gaps(path):
    """The "gaps" object of eval.json as an ordered list of (name, value), or None if absent."""
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON: {e}") from None
    gaps = data.get("gaps") if isinstance(data, dict) else None
    if not isinstance(gaps, dict):
        return None
    known = [k for k in GAP_KEYS if k in gaps] + [k for k in gaps if k not in GAP_KEYS]
    values = []
    for k in known:
        v = gaps[k]
        if isinstance(v, (int, float)) and v is not None and math.isfinite(v):
            values.append((k, float(v)))
    return values or None


BOUNDS = (("elbo_encoder", "ELBO\n(encoder)"), ("elbo_refined", "ELBO\n(refined q)"), ("log_px", "log p(x)"))
GAPS = (("amortisation_gap", "elbo_encoder", "elbo_refined"), ("approximation_gap", "elbo_refined", "log_px"))


def draw_gaps(ax, gaps):
    """The bounds as levels (they differ by a few nats out of ~100, so bars from 0 would hide the
    gaps), with each gap drawn as an arrow between the levels it separates."""
    levels = [(i, label, gaps[key]) for i, (key, label) in enumerate(BOUNDS) if key in gaps]
    for i, _, value in levels:
        ax.hlines(value, i - 0.3, i + 0.3, color="tab:purple", linewidth=3)
        ax.annotate(f"{value:.2f}", (i, value), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=9)
    position = {key: i for i, (key, _) in enumerate(BOUNDS)}
    notes = []
    for name, low, high in GAPS:
        if name not in gaps:
            continue
        if low in gaps and high in gaps:
            x = (position[low] + position[high]) / 2
            ax.annotate("", xy=(x, gaps[high]), xytext=(x, gaps[low]),
                        arrowprops=dict(arrowstyle="<->", color="tab:red"))
            ax.annotate(f"{name.replace('_', ' ')}\n{gaps[name]:.2f}", (x, (gaps[low] + gaps[high]) / 2),
                        textcoords="offset points", xytext=(4, 0), va="center", fontsize=8, color="tab:red")
        else:
            notes.append(f"{name.replace('_', ' ')} {gaps[name]:.2f}")
    values = [v for _, _, v in levels]
    if values:
        span = max(max(values) - min(values), 1.0)
        ax.set_ylim(min(values) - 0.4 * span, max(values) + 0.4 * span)
    ax.set_xlim(-0.6, len(BOUNDS) - 0.4)
    ax.set_xticks(range(len(BOUNDS)))
    ax.set_xticklabels([label for _, label in BOUNDS], fontsize=8)
    ax.set_ylabel("nats per image")
    ax.set_title("inference gaps (eval.json)" + ("\n" + ", ".join(notes) if notes else ""))
    ax.grid(alpha=0.3, axis="y")


def plot(metrics, gaps, output):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    panels = 3 if gaps else 2
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), dpi=100)
    epochs = metrics["epoch"]

    ax = axes[0]
    ax.plot(epochs, metrics["train_elbo"], label="train ELBO", marker="o", markersize=3)
    ax.plot(epochs, metrics["val_elbo"], label="validation ELBO", marker="o", markersize=3)
    best = max(range(len(epochs)), key=lambda i: metrics["val_elbo"][i])
    ax.axvline(epochs[best], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    ax.set_title(f"ELBO (best validation {metrics['val_elbo'][best]:.2f} at epoch {epochs[best]:g})")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    ax = axes[1]
    ax.plot(epochs, metrics["val_kl"], color="tab:green", marker="o", markersize=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("nats per image")
    ax.set_title("validation KL(q(z|x) || p(z))")
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))

    if gaps:
        draw_gaps(axes[2], dict(gaps))

    fig.tight_layout()
    # Atomic: render to a temporary file beside the target, then rename over it.
    directory = os.path.dirname(os.path.abspath(output))
    fd, tmp = tempfile.mkstemp(prefix=".plot_metrics_", suffix=".png", dir=directory)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the picture from others
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    plt.close(fig)
    return panels


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plot an lvm run's training curves (and eval.json gaps).")
    parser.add_argument("run_dir", help="run directory written by `lvm train`")
    parser.add_argument("-o", "--output", help="PNG to write (default RUN_DIR/metrics.png)")
    args = parser.parse_args(argv)
    output = args.output or os.path.join(args.run_dir, "metrics.png")
    try:
        if not os.path.isdir(os.path.dirname(os.path.abspath(output))):
            raise InputError(f"-o {output}: directory {os.path.dirname(os.path.abspath(output))} does not exist")
        metrics = read_metrics(os.path.join(args.run_dir, "metrics.csv"))
        gaps = read_gaps(os.path.join(args.run_dir, "eval.json"))
    except InputError as e:
        print(f"plot_metrics.py: {e}", file=sys.stderr)
        return 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        # Debian's python3-matplotlib is installed for /usr/bin/python3; another python3 first on
        # PATH (pyenv, a venv) may lack it, so try the system one once.
        system_python = "/usr/bin/python3"
        if os.path.exists(system_python) and os.path.realpath(sys.executable) != os.path.realpath(system_python) \
                and not os.environ.get("LVM_PLOT_REEXEC"):
            os.environ["LVM_PLOT_REEXEC"] = "1"
            os.execv(system_python, [system_python, os.path.abspath(__file__)] + sys.argv[1:])
        print("plot_metrics.py: needs matplotlib (Debian: apt-get install python3-matplotlib, or "
              "scripts/install_deps.sh --python)", file=sys.stderr)
        return 1
    panels = plot(metrics, gaps, output)
    extra = " and eval.json gaps" if panels == 3 else ""
    print(f"wrote {output}: {len(metrics['epoch'])} epochs{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
