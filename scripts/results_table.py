#!/usr/bin/env python3
"""Regenerates the README's reproduction table from bench/reproduce/results/*/ (written by
bench/reproduce/run_row.sh): every figure in the table comes from a committed results file.

    scripts/results_table.py            rewrite the table between the README's markers
    scripts/results_table.py --check    exit 1 when the README's table is not what the files give
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "reproduce" / "results"
README = ROOT / "README.md"
BEGIN, END = "<!-- reproduce:begin -->", "<!-- reproduce:end -->"

# Burda et al. (2016), Table 1: test NLL at k = 5000 after 3,280 epochs, by the model (vae: one
# stochastic layer, vae2: two), the training objective and its k.
PUBLISHED = {("vae", "elbo", 1): 86.76, ("vae", "elbo", 5): 86.47, ("vae", "iwae", 5): 85.54,
             ("vae", "elbo", 50): 86.35, ("vae", "iwae", 50): 84.78,
             ("vae2", "elbo", 1): 85.33, ("vae2", "elbo", 5): 85.01, ("vae2", "iwae", 5): 83.89,
             ("vae2", "elbo", 50): 84.78, ("vae2", "iwae", 50): 82.90}


def objective_of(config_yaml):
    """(model.type, model.objective, model.k) from a run's resolved config.yaml (flat keys of its
    model section)."""
    values, in_model = {}, False
    for line in config_yaml.splitlines():
        if not line.startswith(" "):
            in_model = line.startswith("model:")
        elif in_model and line.startswith("  ") and not line.startswith("   ") and ":" in line:
            key, value = line.strip().split(":", 1)
            values[key] = value.split("#")[0].strip()
    return values.get("type", "vae"), values.get("objective", "elbo"), int(values.get("k", "1"))


def nll(report, estimator="iwae"):
    """-log p(x) and its standard error from an eval.json."""
    entry = report["estimators"][estimator]
    return -entry["log_px"], entry["std_error"]


def row_lines(row_dir):
    run = json.loads((row_dir / "run.json").read_text())
    final = json.loads((row_dir / "eval.json").read_text())
    summary = json.loads((row_dir / "summary.json").read_text())
    value, err = nll(final)
    k = final["estimators"]["iwae"].get("k", "?")
    n = final.get("n", "?")
    curve = []
    for path in sorted(row_dir.glob("curve_epoch*.json")):
        point = json.loads(path.read_text())
        curve.append(f"{point['epoch']}: {nll(point)[0]:.2f}")
    published = PUBLISHED.get(objective_of((row_dir / "config.yaml").read_text()))
    paper = f"{published:.2f}" if published is not None else "—"
    return (f"| {row_dir.name} | {summary['epochs']} (best {summary['best_epoch']}) | "
            f"**{value:.2f} ± {err:.2f}** (k = {k}, {n} test images) | {paper} | "
            f"{'; '.join(curve)} | {run['train_wall_seconds'] / 60:.0f} min | `{run['train_command']}` |")


def table():
    lines = ["| row | epochs | test NLL, nats (lower is better) | Burda et al., 3,280 epochs | "
             "learning curve: epoch: NLL at k = 5000, first 1,000 test images | training time | command |",
             "|---|---|---|---|---|---|---|"]
    rows = sorted(d for d in RESULTS.iterdir() if (d / "run.json").exists()) if RESULTS.exists() else []
    lines += [row_lines(d) for d in rows]
    if not rows:
        lines.append("| (no results yet: run bench/reproduce/*.sh) | | | | | | |")
    return "\n".join(lines)


def main():
    text = README.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{README}: no {BEGIN} ... {END} markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{BEGIN}\n{table()}\n{END}{tail}"
    if "--check" in sys.argv[1:]:
        if new != text:
            sys.exit("README.md's reproduction table differs from bench/reproduce/results: "
                     "run scripts/results_table.py")
        return
    README.write_text(new)
    print("README.md: reproduction table rewritten from", RESULTS)


if __name__ == "__main__":
    main()
