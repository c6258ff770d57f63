"""The detector on NAB: full-set scores and leave-one-category-out, all three profiles.

    python bench/nab_loo.py [--data ../shared/nab-data] [--nab ../shared/nab]
                            [--detector module:function | file.py:function]

The only constant fitted to the data is the scorer's threshold (the detector has no
parameter fitted to these files). ``--detector`` scores another ``detect(df)`` (loaded
as the NAB scorer loads one) the same way, so a candidate change is judged on the
held-out figures as well as the full set before it replaces ``alerts.detector``.
For each category held out, the threshold is fitted on the other categories and then
used, unchanged, to score:

* ``held-out``: the held-out category alone (n/a for a category without windows;
  its false-positive rows are shown instead);
* ``full@loo``: the whole set, so the figure compares with the full-set score;

and ``cross-val`` scores every category at the threshold fitted without it and sums
the raw scores, normalised like the full set. Target: full-set standard >= 70 and
every ``full@loo`` and ``cross-val`` figure within 5 points of the full-set score.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 70.0
MAX_GAP = 5.0


def _load_scorer(nab_dir: Path):
    path = nab_dir / "nab_score.py"
    spec = importlib.util.spec_from_file_location("nab_score", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"--nab {nab_dir}: no nab_score.py there")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "nab-data")
    ap.add_argument("--nab", type=Path, default=ROOT.parent / "shared" / "nab")
    ap.add_argument("--detector", default="alerts.detector:detect",
                    help="module:function or file.py:function (default: %(default)s)")
    args = ap.parse_args()
    nab = _load_scorer(args.nab)
    try:
        detect = nab.load_detector(args.detector)
        corpus = nab.load_corpus(args.data)
        profiles = nab.load_profiles(args.data)
    except nab.NabInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"detector {args.detector}")
    scores = nab.run_callable(detect, corpus)
    categories = sorted({f.category for f in corpus})

    def subset(cats: set[str]):
        idx = [i for i, f in enumerate(corpus) if f.category in cats]
        return [corpus[i] for i in idx], [scores[i] for i in idx]

    all_inp = nab.build_sweep_input(corpus, scores)
    ok = True
    print(f"{'profile':<20} {'set':<32} {'threshold':>10} {'held-out':>9} {'full@loo':>9}")
    for name, cost in profiles.items():
        full = nab.score_profile(all_inp, corpus, name, cost)
        print(f"{name:<20} {'full set':<32} {full.threshold or float('inf'):>10.4f} "
              f"{'':>9} {full.normalized:>9.2f}")
        cv_raw = 0.0
        for held in categories:
            fit_c, fit_s = subset(set(categories) - {held})
            fitted = nab.score_profile(nab.build_sweep_input(fit_c, fit_s), fit_c, name, cost)
            thr = fitted.threshold if fitted.threshold is not None else float("inf")
            out_c, out_s = subset({held})
            out = nab.score_profile(nab.build_sweep_input(out_c, out_s), out_c, name, cost, thr)
            cv_raw += out.raw
            at_loo = nab.score_profile(all_inp, corpus, name, cost, thr)
            held_txt = (f"{out.normalized:9.2f}" if out.normalized is not None
                        else f"{out.fp_rows:>5d} FP")
            print(f"{'':<20} {'without ' + held:<32} {thr:>10.4f} {held_txt:>9} "
                  f"{at_loo.normalized:>9.2f}")
            if name == "standard" and abs(at_loo.normalized - full.normalized) > MAX_GAP:
                ok = False
        cv = 100.0 * (cv_raw - full.null) / (full.perfect - full.null)
        print(f"{'':<20} {'cross-val':<32} {'':>10} {'':>9} {cv:>9.2f}")
        if name == "standard":
            ok = ok and full.normalized >= TARGET and abs(cv - full.normalized) <= MAX_GAP
    print(f"target    standard >= {TARGET:g}, leave-one-out within {MAX_GAP:g}: "
          f"{'MET' if ok else 'NOT MET'}")
    return 0 if ok and np.isfinite(cv) else 1


if __name__ == "__main__":
    sys.exit(main())
