"""Train logistic regression and an MLP on training_examples, calibrate, export the best to ONNX.

The validation snapshots choose each algorithm's epochs (early stopping) and the algorithm;
then (config.refit) the selected configuration is fitted again, for the chosen number of
epochs, on every snapshot labelled before the test (train, the gap and validation), so the
registered model has seen the newest labelled data. The test snapshots are never fitted on.

Both models are Functional Keras models whose input is the raw `features` vector: log1p for
heavy-tailed non-negative features and standardisation (both fitted on the training rows) are
constants inside the graph, and Platt scaling fitted on validation is a fixed Dense(1, sigmoid)
on the logit, so the ONNX file is the whole transformation and its output is calibrated.

Every reported metric is computed from the exported ONNX model with ONNX Runtime.
TensorFlow is imported inside `fit_models` only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models_py import FORMAT_VERSION, explain, export, metrics
from models_py.data import Examples, TimeSplit, time_folds, time_split
from models_py.metrics import ThresholdPolicy

ALGORITHMS: tuple[str, ...] = ("logreg", "mlp")
SEARCH_SPACE: dict[str, list[dict[str, Any]]] = {
    "logreg": [
        {"l2": 1e-4, "learning_rate": 0.02},
        {"l2": 1e-2, "learning_rate": 0.02},
    ],
    "mlp": [
        {"hidden": [64, 32], "dropout": 0.1, "l2": 1e-5, "learning_rate": 3e-3},
        {"hidden": [128, 64], "dropout": 0.2, "l2": 1e-5, "learning_rate": 2e-3},
    ],
}
BASELINE_FEATURE = "days_since_last_order"
CLIP = 10.0  # standardised features are clipped to [-CLIP, CLIP]

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the trained model besides the data (all part of the version hash).

    Attributes:
        horizon_days: Churn horizon the training_examples were built with (split gaps).
        active_window_days: Active window of the churn definition (metadata only).
        seed: Random seed for weights, dropout, shuffling and subsampling.
        algorithms: Which of ALGORITHMS to train.
        max_epochs: Epoch limit of the final fits (early stopping on validation PR-AUC).
        patience: Early-stopping patience in epochs.
        min_delta: Smallest validation PR-AUC gain that counts as an improvement.
        batch_size: Largest batch size (smaller data gets smaller batches).
        val_snapshots: Number of validation snapshots.
        test_snapshots: Number of test snapshots (the latest ones).
        search: Whether to run the hyperparameter search (else the first config per algorithm).
        refit: Refit the selected algorithm on every snapshot S with S + horizon <= the first
            test snapshot (train, gap and validation) for its early-stopping epoch count, with
            the input transformation fitted on those rows, then Platt-calibrate it on the
            validation rows (which it has seen; the test stays held out). False: the
            registered model is the one fitted on the train part only.
        refit_max_rows: Refit only when the train part has at most this many rows (None: no
            limit). The refit costs about half the training time again; it gained +0.0004 to
            +0.004 ROC-AUC on the 20k sample shop and CDNOW (bench/RESULTS_accuracy.md), where
            the newest snapshots are a large share of the history. Above ~0.5 M train rows
            it would break the 5-minute training budget for 1 M rows.
        search_folds: Time-ordered folds in the search.
        search_epochs: Epoch limit per search fit.
        search_max_rows: Fit rows per search fold are subsampled to at most this many.
        threads: TensorFlow intra-op threads (0 = TensorFlow's default).
        policy: Risk-tier threshold policy.
        explainer_candidates: K, features occluded exactly per row by an MLP's explainer
            (models_py/explain.py; logistic regression is exact for all features).
        max_examples: Train on a fixed hash sample of customers (all their snapshots) when
            training_examples holds more rows than this (None: all rows); keeps memory and
            training time bounded on big shops (1 M customers x 50 snapshots is ~25 M rows).
    """

    horizon_days: int = 30
    active_window_days: int = 180
    seed: int = 42
    algorithms: tuple[str, ...] = ALGORITHMS
    max_epochs: int = 15
    patience: int = 2
    batch_size: int = 8192
    val_snapshots: int = 2
    test_snapshots: int = 1
    search: bool = True
    refit: bool = True
    refit_max_rows: int | None = 500_000
    search_folds: int = 2
    search_epochs: int = 3
    search_max_rows: int = 100_000
    min_delta: float = 1e-3
    threads: int = 0
    policy: ThresholdPolicy = field(default_factory=ThresholdPolicy)
    explainer_candidates: int = explain.DEFAULT_CANDIDATES
    max_examples: int | None = 2_000_000

    def __post_init__(self) -> None:
        if self.explainer_candidates < 1:
            raise ValueError("explainer_candidates must be at least 1")
        unknown = [a for a in self.algorithms if a not in ALGORITHMS]
        if unknown or not self.algorithms:
            raise ValueError(f"unknown algorithms {unknown}; choose from {list(ALGORITHMS)}")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (threads excluded: it does not change the model on one machine)."""
        d = asdict(self)
        d["algorithms"] = list(self.algorithms)
        d.pop("threads")
        return d


@dataclass(frozen=True)
class Preprocessing:
    """The in-graph input transformation, fitted on training rows.

    z = clip((where(log_mask, log(max(x, 0) + 1), x) - mean) * inv_std, -CLIP, CLIP)
    """

    log_mask: np.ndarray
    mean: np.ndarray
    inv_std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, max_rows: int = 200_000, seed: int = 0) -> Preprocessing:
        """Decide log1p per feature and the standardisation constants from training rows.

        A feature gets log1p when it is non-negative, has more than two distinct values and
        its sample skewness exceeds 1 (heavy right tail, e.g. counts, money, days).
        """
        if X.shape[0] > max_rows:
            idx = np.sort(np.random.default_rng(seed).choice(X.shape[0], max_rows, replace=False))
            X = X[idx]
        X = X.astype(np.float64)
        mu, sd = X.mean(axis=0), X.std(axis=0)
        skew = np.where(sd > 0, ((X - mu) ** 3).mean(axis=0) / np.maximum(sd, 1e-12) ** 3, 0.0)
        distinct = np.array([np.unique(X[:2000, j]).size > 2 for j in range(X.shape[1])])
        log_mask = (X.min(axis=0) >= 0) & distinct & (skew > 1.0)
        T = np.where(log_mask, np.log1p(np.maximum(X, 0)), X)
        mean, std = T.mean(axis=0), T.std(axis=0)
        inv = np.where(std > 1e-12, 1.0 / np.maximum(std, 1e-12), 1.0)
        return cls(log_mask, mean.astype(np.float32), inv.astype(np.float32))


@dataclass
class AlgorithmResult:
    """One trained algorithm: its calibrated export model, ONNX bytes and scores."""

    algorithm: str
    params: dict[str, Any]
    search: list[dict[str, Any]]
    epochs: int
    platt: tuple[float, float]
    export_model: Any
    onnx_bytes: bytes
    val_pr_auc: float | None
    thresholds: dict[str, float]
    threshold_notes: list[str]
    val_p: np.ndarray
    test_p: np.ndarray
    test_metrics: dict[str, Any]
    seconds: float
    best_epochs: int = 0
    refit: dict[str, Any] | None = None


@dataclass
class TrainOutcome:
    """The result of `fit_models`: the selected candidate and everything to register it."""

    model_version: str
    algorithm: str
    onnx_bytes: bytes
    explainer_bytes: bytes
    export_model: Any
    feature_names: list[str]
    config: TrainConfig
    split: TimeSplit
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    feature_medians: list[float]
    log_features: list[str]
    test_X: np.ndarray
    test_y: np.ndarray
    test_p: np.ndarray
    baseline_scores: np.ndarray | None
    results: dict[str, AlgorithmResult]
    parity_max_abs_diff: float
    seconds: float
    fitted_end_date: dt.date | None = None  # last snapshot the registered model was fitted on

    @property
    def train_start_date(self) -> dt.date:
        return self.split.train_dates[0]

    @property
    def train_end_date(self) -> dt.date:
        """The last snapshot the registered model was fitted on (the refit's, if refitted)."""
        return self.fitted_end_date or self.split.train_dates[-1]

    @property
    def test_start_date(self) -> dt.date:
        return self.split.test_dates[0]

    @property
    def test_end_date(self) -> dt.date:
        return self.split.test_dates[-1]


def configure_tensorflow(threads: int = 0) -> Any:
    """Import TensorFlow quietly and deterministically; returns the `tensorflow` module.

    Sets TF_CPP_MIN_LOG_LEVEL=3, TF_ENABLE_ONEDNN_OPTS=0 and TF_DETERMINISTIC_OPS=1 before the
    import (unless already set), enables op determinism and, if `threads` > 0, the intra-op
    thread count (only possible before TensorFlow's runtime starts).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    if threads > 0:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:  # runtime already initialised: keep its setting
            pass
    tf.config.experimental.enable_op_determinism()
    return tf


@functools.cache
def _preprocess_layer_class() -> type:
    import keras

    class Preprocess(keras.layers.Layer):
        """Fixed log1p + standardisation + clipping (constants, not trainable)."""

        def __init__(self, prep: Preprocessing, **kwargs: Any) -> None:
            super().__init__(trainable=False, **kwargs)
            self.log_mask = keras.ops.convert_to_tensor(prep.log_mask.astype(bool))
            self.mean = keras.ops.convert_to_tensor(prep.mean.astype(np.float32))
            self.inv_std = keras.ops.convert_to_tensor(prep.inv_std.astype(np.float32))

        def call(self, x: Any) -> Any:
            logged = keras.ops.log(keras.ops.maximum(x, 0.0) + 1.0)
            x = keras.ops.where(self.log_mask, logged, x)
            return keras.ops.clip((x - self.mean) * self.inv_std, -CLIP, CLIP)

        def compute_output_shape(self, input_shape: Any) -> Any:
            return input_shape

    return Preprocess


def build_model(
    algorithm: str, params: dict[str, Any], prep: Preprocessing, n_features: int
) -> Any:
    """The trainable Functional model: `features` -> preprocessing -> ... -> `logit` [None, 1]."""
    import keras

    reg = keras.regularizers.L2(params.get("l2", 0.0))
    inp = keras.Input((n_features,), name=export.INPUT_NAME, dtype="float32")
    x = _preprocess_layer_class()(prep, name="preprocess")(inp)
    if algorithm == "mlp":
        for i, units in enumerate(params["hidden"], start=1):
            x = keras.layers.Dense(
                units, activation="relu", kernel_regularizer=reg, name=f"hidden_{i}"
            )(x)
            if params.get("dropout"):
                x = keras.layers.Dropout(params["dropout"], name=f"dropout_{i}")(x)
    elif algorithm != "logreg":
        raise ValueError(f"unknown algorithm {algorithm!r}")
    logit = keras.layers.Dense(1, kernel_regularizer=reg, name="logit")(x)
    return keras.Model(inp, logit, name=algorithm)


def calibrated_model(model: Any, a: float, b: float) -> Any:
    """Append a fixed Dense(1, sigmoid) named `churn_probability` computing sigmoid(a*logit+b)."""
    import keras

    cal = keras.layers.Dense(1, activation="sigmoid", trainable=False, name=export.OUTPUT_NAME)
    out = cal(model.output)
    cal.set_weights([np.array([[a]], np.float32), np.array([b], np.float32)])
    return keras.Model(model.input, out, name="churnwatch")


def _batch_size(n_rows: int, largest: int) -> int:
    """Largest batch for big data; about 32 steps per epoch (>= 128 rows) for small data."""
    small = 2 ** int(math.log2(max(n_rows // 32, 1)))
    return int(min(largest, max(128, small)))


def _class_weight(y: np.ndarray) -> dict[int, float]:
    n, pos = y.size, int(y.sum())
    if pos == 0 or pos == n:
        raise ValueError("training rows need both churned and retained customers")
    return {0: n / (2.0 * (n - pos)), 1: n / (2.0 * pos)}


def _fit(
    algorithm: str,
    params: dict[str, Any],
    prep: Preprocessing,
    X: np.ndarray,
    y: np.ndarray,
    Xv: np.ndarray | None,
    yv: np.ndarray | None,
    *,
    config: TrainConfig,
    epochs: int,
    log: Log | None,
    tag: str,
) -> tuple[Any, int, int]:
    """Fit one model with class weights and early stopping on validation PR-AUC.

    Without validation rows (Xv None) it runs exactly `epochs` epochs.

    Returns:
        (model with the best epoch's weights, epochs run, epochs of the best weights)
    """
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    model = build_model(algorithm, params, prep, X.shape[1])
    model.compile(
        optimizer=keras.optimizers.Adam(params["learning_rate"]),
        loss=keras.losses.BinaryCrossentropy(from_logits=True),
        metrics=[keras.metrics.AUC(curve="PR", from_logits=True, name="pr_auc")],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_pr_auc",
        mode="max",
        patience=config.patience,
        min_delta=config.min_delta,
        restore_best_weights=True,
    )
    callbacks: list[Any] = [stop] if Xv is not None else []
    if log is not None:
        callbacks.append(_progress_callback(log, tag, epochs))
    bs = _batch_size(len(X), config.batch_size)
    weights = _class_weight(y)
    w = np.where(y == 1, weights[1], weights[0]).astype(np.float32)
    hist = model.fit(
        _dataset(X, y, w, bs, shuffle_seed=config.seed),
        epochs=epochs,
        validation_data=(
            _dataset(Xv, yv, None, 65536) if Xv is not None and yv is not None else None
        ),
        shuffle=False,  # the dataset shuffles itself (seeded)
        verbose=0,
        callbacks=callbacks,
    )
    run = len(hist.history.get("loss", []))
    best = stop.best_epoch + 1 if Xv is not None else run
    return model, run, best


def _dataset(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    batch_size: int,
    shuffle_seed: int | None = None,
) -> Any:
    """A tf.data pipeline with an unknown batch dimension, so a short last batch does not
    retrace the train step (tracing dominates small fits). Shuffles row indices per epoch with
    a fixed seed and gathers the batches."""
    import tensorflow as tf

    tensors = [tf.constant(X, tf.float32), tf.constant(y.astype(np.float32)[:, None])]
    if w is not None:
        tensors.append(tf.constant(w, tf.float32))
    ds = tf.data.Dataset.range(len(X))
    if shuffle_seed is not None:
        ds = ds.shuffle(len(X), seed=shuffle_seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda idx: tuple(tf.gather(t, idx) for t in tensors))
    return ds.prefetch(2)


def _progress_callback(log: Log, tag: str, epochs: int) -> Any:
    import keras

    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            val = (
                f"  val_loss {logs['val_loss']:.4f}  val_pr_auc {logs['val_pr_auc']:.4f}"
                if "val_pr_auc" in logs
                else ""
            )
            log(
                f"[{tag}] epoch {epoch + 1}/{epochs}  loss {logs.get('loss', float('nan')):.4f}"
                f"{val}  ({time.perf_counter() - self._t0:.1f}s)"
            )

    return Progress()


def _logits(model: Any, X: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(X, batch_size=65536, verbose=0), dtype=np.float64).ravel()


def _subsample(idx: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    if idx.size <= max_rows:
        return idx
    return np.sort(np.random.default_rng(seed).choice(idx, max_rows, replace=False))


def _search(
    algorithm: str,
    ex: Examples,
    train_mask: np.ndarray,
    split: TimeSplit,
    config: TrainConfig,
    log: Log,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Pick the params with the best mean PR-AUC over time-ordered folds of the train period."""
    grid = SEARCH_SPACE[algorithm]
    folds = time_folds(
        split.train_dates,
        config.horizon_days,
        n_folds=config.search_folds,
        eval_snapshots=config.val_snapshots,
    )
    if not config.search or len(grid) == 1 or not folds:
        if config.search and not folds:
            log(f"[{algorithm}] search skipped: training period too short for time folds")
        return grid[0], []
    dates = ex.snapshot_dates
    report: list[dict[str, Any]] = []
    for params in grid:
        scores = []
        for fit_dates, eval_dates in folds:
            fit_idx = np.flatnonzero(
                train_mask & np.isin(dates, np.array(fit_dates, "datetime64[D]"))
            )
            ev_idx = np.flatnonzero(np.isin(dates, np.array(eval_dates, "datetime64[D]")))
            fit_idx = _subsample(fit_idx, config.search_max_rows, config.seed)
            ev_idx = _subsample(ev_idx, config.search_max_rows, config.seed)
            if ex.y[fit_idx].min() == ex.y[fit_idx].max() or ex.y[ev_idx].sum() == 0:
                continue
            prep = Preprocessing.fit(ex.X[fit_idx], seed=config.seed)
            model, _, _ = _fit(
                algorithm,
                params,
                prep,
                ex.X[fit_idx],
                ex.y[fit_idx],
                ex.X[ev_idx],
                ex.y[ev_idx],
                config=config,
                epochs=config.search_epochs,
                log=None,
                tag=algorithm,
            )
            scores.append(metrics.pr_auc(ex.y[ev_idx], _logits(model, ex.X[ev_idx])) or 0.0)
        mean = float(np.mean(scores)) if scores else float("nan")
        report.append({"params": params, "fold_pr_auc": scores, "mean_pr_auc": mean})
        log(
            f"[{algorithm}] search {json.dumps(params)}: fold PR-AUC "
            + ", ".join(f"{s:.4f}" for s in scores)
            + f" (mean {mean:.4f})"
        )
    scored = [r for r in report if not math.isnan(r["mean_pr_auc"])]
    if not scored:
        return grid[0], report
    best = max(scored, key=lambda r: r["mean_pr_auc"])  # first of equals wins
    return best["params"], report


def _refit(
    res: AlgorithmResult,
    ex: Examples,
    split: TimeSplit,
    Xv: np.ndarray,
    yv: np.ndarray,
    Xt: np.ndarray,
    yt: np.ndarray,
    config: TrainConfig,
    log: Log,
) -> Preprocessing:
    """Refit `res`'s configuration on every snapshot labelled before the test (see
    TrainConfig.refit) and replace its model, calibration, thresholds and scores in place.

    The held-out figures of the train-only fit stay in `res.refit["before"]`; `val_pr_auc`
    (the selection criterion) stays the held-out one. Returns the refit's input transformation.
    """
    t0 = time.perf_counter()
    dates = split.refit_dates(ex.snapshot_dates)
    mask = np.isin(ex.snapshot_dates, np.array(dates, "datetime64[D]"))
    Xr, yr = ex.X[mask], ex.y[mask]
    prep = Preprocessing.fit(Xr, seed=config.seed)
    model, _, _ = _fit(
        res.algorithm,
        res.params,
        prep,
        Xr,
        yr,
        None,
        None,
        config=config,
        epochs=res.best_epochs,
        log=log,
        tag=f"{res.algorithm} refit",
    )
    a, b = metrics.fit_platt(_logits(model, Xv), yv)
    exp_model = calibrated_model(model, a, b)
    onnx_plain = export.to_onnx(exp_model, Xr.shape[1], _placeholder_metadata())
    val_p = export.predict_onnx(onnx_plain, Xv)
    test_p = export.predict_onnx(onnx_plain, Xt)
    thresholds, notes = metrics.choose_thresholds(yv, val_p, config.policy)
    res.refit = {
        "snapshots": [str(dates[0]), str(dates[-1]), len(dates)],
        "rows": int(len(yr)),
        "epochs": res.best_epochs,
        "seconds": round(time.perf_counter() - t0, 2),
        "calibration": "Platt on the validation rows (seen by the refit model)",
        "before": {
            "platt": {"a": res.platt[0], "b": res.platt[1]},
            "test": res.test_metrics,
        },
    }
    res.platt, res.export_model, res.onnx_bytes = (a, b), exp_model, onnx_plain
    res.val_p, res.test_p, res.thresholds, res.threshold_notes = val_p, test_p, thresholds, notes
    res.test_metrics = metrics.evaluate(yt, test_p, thresholds)
    res.seconds += time.perf_counter() - t0
    log(
        f"[{res.algorithm}] refit on {len(dates)} snapshots {dates[0]}..{dates[-1]} "
        f"({len(yr)} rows, {res.best_epochs} epochs): test ROC-AUC "
        f"{res.refit['before']['test']['roc_auc']:.4f} -> {res.test_metrics['roc_auc']:.4f} "
        f"({time.perf_counter() - t0:.1f}s)"
    )
    return prep


def model_version(
    fingerprint: str, config: TrainConfig, train_end: dt.date, algorithm: str
) -> str:
    """`<train_end YYYYMMDD>-<algorithm>-<10 hex>`.

    The hex part hashes the data fingerprint, the config, the search space and the code format,
    so the same data and settings give the same version (never the clock).
    """
    payload = json.dumps(
        {
            "data": fingerprint,
            "config": config.as_dict(),
            "search_space": SEARCH_SPACE,
            "format": FORMAT_VERSION,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(payload.encode()).hexdigest()[:10]
    return f"{train_end:%Y%m%d}-{algorithm}-{digest}"


def _medians(X: np.ndarray, max_rows: int = 1_000_000, seed: int = 0) -> list[float]:
    idx = _subsample(np.arange(X.shape[0]), max_rows, seed)
    return [float(f"{m:.6g}") for m in np.median(X[idx].astype(np.float64), axis=0)]


def fit_models(
    ex: Examples, config: TrainConfig = TrainConfig(), log: Log = _print
) -> TrainOutcome:
    """Train, calibrate, export and evaluate every configured algorithm; select the candidate.

    Args:
        ex: All training examples (from `data.load_training_examples`).
        config: Training settings.
        log: Receives progress lines (one per epoch of each final fit).

    Returns:
        The candidate with the best validation PR-AUC, with its ONNX bytes (metadata included)
        and the metrics JSON for the registry.

    Raises:
        data.DataError: Too few snapshots for the split.
        ValueError: A part of the split has only one class.
    """
    t_start = time.perf_counter()
    configure_tensorflow(config.threads)
    names = list(ex.feature_names)
    split = time_split(
        ex.snapshot_dates,
        config.horizon_days,
        val_snapshots=config.val_snapshots,
        test_snapshots=config.test_snapshots,
    )
    train_mask, val_mask, test_mask = split.masks(ex.snapshot_dates)
    X, y = ex.X[train_mask], ex.y[train_mask]
    Xv, yv = ex.X[val_mask], ex.y[val_mask]
    Xt, yt = ex.X[test_mask], ex.y[test_mask]
    for part, labels in (("train", y), ("validation", yv), ("test", yt)):
        if labels.size == 0 or labels.min() == labels.max():
            raise ValueError(f"the {part} snapshots need both churned and retained customers")
    log(
        f"split (horizon {config.horizon_days}d): train {len(y)} rows "
        f"{split.train_dates[0]}..{split.train_dates[-1]}, validation {len(yv)} rows "
        f"{split.val_dates[0]}..{split.val_dates[-1]}, test {len(yt)} rows "
        f"{split.test_dates[0]}..{split.test_dates[-1]}"
    )
    prep = Preprocessing.fit(X, seed=config.seed)
    log_features = [n for n, m in zip(names, prep.log_mask) if m]
    results: dict[str, AlgorithmResult] = {}
    for algorithm in config.algorithms:
        t0 = time.perf_counter()
        params, search_report = _search(algorithm, ex, train_mask, split, config, log)
        model, epochs, best_epochs = _fit(
            algorithm,
            params,
            prep,
            X,
            y,
            Xv,
            yv,
            config=config,
            epochs=config.max_epochs,
            log=log,
            tag=algorithm,
        )
        a, b = metrics.fit_platt(_logits(model, Xv), yv)
        exp_model = calibrated_model(model, a, b)
        onnx_plain = export.to_onnx(exp_model, len(names), _placeholder_metadata())
        val_p = export.predict_onnx(onnx_plain, Xv)
        test_p = export.predict_onnx(onnx_plain, Xt)
        thresholds, notes = metrics.choose_thresholds(yv, val_p, config.policy)
        results[algorithm] = AlgorithmResult(
            algorithm=algorithm,
            params=params,
            search=search_report,
            epochs=epochs,
            platt=(a, b),
            export_model=exp_model,
            onnx_bytes=onnx_plain,
            val_pr_auc=metrics.pr_auc(yv, val_p),
            thresholds=thresholds,
            threshold_notes=notes,
            val_p=val_p,
            test_p=test_p,
            test_metrics=metrics.evaluate(yt, test_p, thresholds),
            seconds=time.perf_counter() - t0,
            best_epochs=best_epochs,
        )
        log(
            f"[{algorithm}] validation PR-AUC {results[algorithm].val_pr_auc:.4f} "
            f"({results[algorithm].seconds:.1f}s)"
        )
    best = max(results.values(), key=lambda r: r.val_pr_auc or 0.0)
    refit_note = None
    fitted_end = split.train_dates[-1]
    if config.refit and config.refit_max_rows is not None and len(y) > config.refit_max_rows:
        refit_note = f"refit skipped: {len(y)} train rows > refit_max_rows {config.refit_max_rows}"
        log(refit_note)
    elif config.refit:
        refit_prep = _refit(best, ex, split, Xv, yv, Xt, yt, config, log)
        log_features = [n for n, m in zip(names, refit_prep.log_mask) if m]
        fitted_end = split.refit_dates(ex.snapshot_dates)[-1]
    version = model_version(ex.fingerprint(), config, fitted_end, best.algorithm)
    medians = _medians(X, seed=config.seed)
    meta = {
        "model_version": version,
        "feature_names": json.dumps(names),
        "churn_horizon_days": str(config.horizon_days),
        "active_window_days": str(config.active_window_days),
        "train_start_date": str(split.train_dates[0]),
        "train_end_date": str(fitted_end),
        "thresholds": json.dumps(best.thresholds, sort_keys=True),
        "feature_medians": json.dumps(medians),
        "algorithm": best.algorithm,
        "test_start_date": str(split.test_dates[0]),
        "test_end_date": str(split.test_dates[-1]),
    }
    # the explainer (reason codes) first: model.onnx's metadata carries its name and sha256
    net = explain.network_from_keras(best.export_model, CLIP)
    explainer_bytes = explain.build_explainer(
        net,
        medians,
        n_candidates=config.explainer_candidates,
        metadata={"model_version": version, "feature_names": meta["feature_names"]},
    )
    meta[export.EXPLAINER_FILE_KEY] = explain.EXPLAINER_FILE
    meta[export.EXPLAINER_SHA_KEY] = explain.sha256(explainer_bytes)
    meta["explainer_method"] = explain.method_description(net, config.explainer_candidates)
    onnx_bytes = export.to_onnx(best.export_model, len(names), meta)
    parity_rows = _subsample(np.arange(len(Xt)), 20_000, config.seed)
    parity = export.check_parity(best.export_model, onnx_bytes, Xt[parity_rows])
    # every reported impact must be the exact occlusion impact through model.onnx
    explainer_check = explain.verify(
        onnx_bytes,
        explainer_bytes,
        Xt[_subsample(np.arange(len(Xt)), 2_000, config.seed)],
        medians,
    )
    explainer_check["method"] = meta["explainer_method"]
    test_p = export.predict_onnx(onnx_bytes, Xt)
    baseline_scores = None
    baseline: dict[str, Any]
    if BASELINE_FEATURE in names:
        baseline_scores = Xt[:, names.index(BASELINE_FEATURE)].astype(np.float64)
        baseline = metrics.ranking_metrics(yt, baseline_scores)
    else:
        baseline = {"skipped": f"feature {BASELINE_FEATURE!r} is not in the feature list"}
        log(f"recency baseline skipped: {BASELINE_FEATURE!r} is not in the feature list")
    seconds = time.perf_counter() - t_start
    metric_json: dict[str, Any] = {
        "selected": best.algorithm,
        "selection": "best validation PR-AUC",
        "refit_note": refit_note,
        "test": metrics.evaluate(yt, test_p, best.thresholds),
        "validation": metrics.evaluate(yv, best.val_p, best.thresholds),
        "baseline_days_since_last_order": baseline,
        "algorithms": {
            r.algorithm: {
                "params": r.params,
                "search": r.search,
                "epochs": r.epochs,
                "best_epochs": r.best_epochs,
                "refit": r.refit,
                "platt": {"a": r.platt[0], "b": r.platt[1]},
                "val_pr_auc": r.val_pr_auc,
                "test": r.test_metrics,
                "seconds": round(r.seconds, 2),
            }
            for r in results.values()
        },
        "threshold_policy": config.policy.as_dict(),
        "threshold_notes": best.threshold_notes,
        "split": split.as_dict(),
        "rows": {"train": int(len(y)), "validation": int(len(yv)), "test": int(len(yt))},
        "log1p_features": log_features,
        "config": config.as_dict(),
        "data_fingerprint": ex.fingerprint(),
        "parity_max_abs_diff": parity,
        "explainer": explainer_check,
        "train_seconds": round(seconds, 2),
    }
    log(
        f"selected {best.algorithm} as {version}: test PR-AUC "
        f"{metric_json['test']['pr_auc']:.4f}, ROC-AUC {metric_json['test']['roc_auc']:.4f}, "
        f"parity {parity:.1e} ({seconds:.1f}s)"
    )
    log(
        f"explainer ({explainer_check['method']}): same top reason as exact occlusion on "
        f"{explainer_check['same_top1']:.1%}, same top-3 on {explainer_check['same_top3']:.1%} "
        f"of {explainer_check['rows']} test rows"
    )
    return TrainOutcome(
        model_version=version,
        algorithm=best.algorithm,
        onnx_bytes=onnx_bytes,
        explainer_bytes=explainer_bytes,
        export_model=best.export_model,
        feature_names=names,
        config=config,
        split=split,
        thresholds=best.thresholds,
        metrics=metric_json,
        feature_medians=medians,
        log_features=log_features,
        test_X=Xt,
        test_y=yt,
        test_p=test_p,
        baseline_scores=baseline_scores,
        results=results,
        parity_max_abs_diff=parity,
        seconds=seconds,
        fitted_end_date=fitted_end,
    )


def _placeholder_metadata() -> dict[str, str]:
    return {k: "" for k in export.METADATA_KEYS}


def train_and_register(
    db_path: str | Path,
    config: TrainConfig = TrainConfig(),
    *,
    artifacts: str | Path | None = None,
    force: bool = False,
    activate: bool = True,
    feature_names: Sequence[str] | None = None,
    log: Log = _print,
) -> Any:
    """Load training_examples from `db_path`, train, register the candidate, write artifacts.

    The database is opened only to read the examples and again to write the registry, not
    during training. Artifacts: `<artifacts>/models/<version>/` with model.onnx, model_card.md
    and the plots.

    Args:
        db_path: DuckDB file holding main.training_examples and main.feature_catalog.
        config: Training settings.
        artifacts: Artifacts root (default: $CHURNWATCH_ARTIFACTS or ./artifacts).
        force: Activate the candidate even if it is worse than the active model.
        activate: Whether a good candidate becomes active (False: status 'candidate').
        feature_names: Expected feature list (default: main.feature_catalog).
        log: Receives progress lines.

    Returns:
        The `registry.Registration` (status, reason, record).
    """
    import duckdb

    from models_py import card, data, plots, registry

    with duckdb.connect(str(db_path)) as con:
        where, note = data.customer_sample(con, config.max_examples)
        ex = data.load_training_examples(con, feature_names, where=where)
    log(f"loaded {len(ex)} training examples x {len(ex.feature_names)} features from {db_path}")
    if note:
        log(note)
    outcome = fit_models(ex, config, log)
    with duckdb.connect(str(db_path)) as con:
        result = registry.register(
            con,
            registry.Candidate.from_outcome(outcome),
            outcome.test_X,
            outcome.test_y,
            artifacts=artifacts,
            force=force,
            activate=activate,
        )
    out_dir = Path(result.record.onnx_path).parent
    plot_files = plots.write_plots(
        out_dir, outcome.test_y, outcome.test_p, outcome.baseline_scores
    )
    (out_dir / "model_card.md").write_text(card.render(outcome, result, plot_files))
    log(f"model {outcome.model_version}: {result.status} ({result.reason})")
    log(f"artifacts: {out_dir}")
    return result
