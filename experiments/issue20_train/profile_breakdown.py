"""Where the CPU of a cProfile'd `python -m kwct_ml.train --jobs 1` goes, in the profile's seconds.
Usage: python -m cProfile -o X.prof -m kwct_ml.train ... --jobs 1; python profile_breakdown.py X.prof"""
import sys
import pstats

stats = pstats.Stats(sys.argv[1]).stats


def seconds(file_end: str, function: str, cumulative: bool = True) -> float:
    return max([v[3 if cumulative else 2] for k, v in stats.items()
                if k[0].endswith(file_end) and k[2] == function] or [0.0])


rows = [("liblinear (LinearSVC fits)", "svm/_base.py", "_fit_liblinear", False),
        ("sigmoid calibration (L-BFGS setulb)", "~", "<built-in method scipy.optimize._lbfgsb.setulb>", False),
        ("CueFeatures.transform", "pipeline/cues.py", "transform", True),
        ("FastCharTfidf fit", "pipeline/char_tfidf.py", "_fit", True),
        ("word-unigram TfidfVectorizer fit", "feature_extraction/text.py", "fit_transform", True),
        ("normalize (inside the feature blocks)", "text/normalize.py", "normalize", True),
        ("eval set (evaluate_external)", "training/cv.py", "evaluate_external", True),
        ("report", "reporting/report.py", "build_report", True),
        ("load_corpus", "corpus/dataset.py", "load_corpus", True)]
for name, file_end, function, cumulative in rows:
    print(f"{name}: {seconds(file_end, function, cumulative):.1f}")
print(f"profile total: {pstats.Stats(sys.argv[1]).total_tt:.1f}")
