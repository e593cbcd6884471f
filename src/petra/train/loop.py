"""The training loop, NVlabs style: ``setup(cfg, ...)`` builds, ``train_loop(state)`` loops.

Phases of :func:`setup`: (1) resolve the variant's train params into frozen
:class:`TrainOptions` and write them with the whole resolved config to
``<run>/training_options.json`` before any work; (2) distributed init when
launched by ``torchrun`` (``WORLD_SIZE`` > 1); (3) samplers over the manifest's
train and val splits; (4) the recipe and its optimiser (Ranger from
``pytorch-ranger`` plus the released code's gradient centralisation,
:mod:`petra.train.ranger`); (5) resume from the latest checkpoint of the run.

:func:`train_loop` counts steps, prints a status line every ``tick_steps``, logs
the mean loss terms (MLflow through :mod:`petra.tracking` and
``<run>/metrics.jsonl``), validates every ``val_steps`` on a fixed set of val
batches (``<run>/val.jsonl``) and snapshots every ``checkpoint_steps`` (always
at the end). With ``selection: val_loss`` (the released code) it also keeps
``checkpoints/best.pt``, rewritten whenever the total validation loss improves.
An interrupted run restarted with the same arguments continues
from its last checkpoint and sees the same batches (the sampler is a function
of (seed, step)); its logs are cut back to that checkpoint, so the finished run's
weights and loss history equal an uninterrupted run's (bit for bit: deterministic kernels are
switched on). A checkpoint made with other
params (anything but ``steps``) is not resumed: the run starts over.

``steps: 0`` is a *check* of a recipe that starts from a released checkpoint (its ``init``,
e.g. the shipped mesh-ours-gen): no data is read and nothing is optimised; the starting
weights become the run's one checkpoint (step 0) and the summary records their file and
sha256, so selection, evaluation and MLflow treat it like any other run.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from petra.device import resolve_device
from petra.train.options import TrainOptions
from petra.io import write_image

from ..errors import PetraError
from ..io import clean_temporaries, sha256_file, sidecar, write_json, write_text
from . import checkpoint as ckpt
from .recipe import Recipe, Sampler
from .sampler import PairSampler

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class TrainState:
    """Everything the loop touches; built by :func:`setup`."""

    cfg: Mapping[str, Any]
    params: Mapping[str, Any]
    opts: TrainOptions
    run_dir: Path
    recipe: Recipe
    optimizer: torch.optim.Optimizer
    sampler: Sampler                # PairSampler, or the recipe's own (make_sampler)
    val_sampler: Sampler | None
    device: torch.device
    step: int = 0
    rank: int = 0
    world_size: int = 1
    tracker: Any = None
    log: Callable[[str], None] = print
    history: list[dict[str, float]] = field(default_factory=list)
    best_val: float | None = None   # best val_total so far (selection: val_loss)


def make_optimizer(params: Any, opts: TrainOptions) -> torch.optim.Optimizer:
    """Ranger (RAdam + Lookahead [+ gradient centralisation], the thesis's optimiser) or Adam."""
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("the recipe has no trainable parameters")
    if opts.optimizer == "ranger":
        from .ranger import RangerGC

        return RangerGC(params, lr=opts.lr, use_gc=opts.gradient_centralization)
    if opts.optimizer == "adam":
        return torch.optim.Adam(params, lr=opts.lr)
    raise ValueError(f"unknown optimizer {opts.optimizer!r}")


def _init_distributed() -> tuple[int, int]:
    """(rank, world size); initialises torch.distributed under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), dist.get_world_size()


def setup(
    cfg: Mapping[str, Any],
    params: Mapping[str, Any],
    run_dir: str | Path,
    manifest: pd.DataFrame,
    recipe: Recipe,
    root: str | Path = ".",
    resume: bool = True,
    tracker: Any = None,
    log: Callable[[str], None] = print,
) -> TrainState:
    """Build the whole training state for one variant (see the module docstring)."""
    # 1. options, saved before any work
    opts = TrainOptions.from_params(params)
    run_dir = Path(run_dir)
    rank, world = _init_distributed()
    if rank == 0:
        clean_temporaries(run_dir, recursive=True)  # what a killed run left (checkpoint temporaries)
        write_json(run_dir / "training_options.json", {"options": asdict(opts), "params": dict(params), "config": dict(cfg)})
    torch.manual_seed(opts.seed)
    # same params + seed = same weights: with 2 CPU threads one backward op accumulates in a
    # schedule-dependent order (gradients differed by ~1e-8 between identical steps, and Adam
    # grows that into different runs); its deterministic kernel costs < 5 % per step here.
    # warn_only: a CUDA op without one warns instead of stopping a GPU run.
    torch.use_deterministic_algorithms(True, warn_only=True)
    device = resolve_device(opts.device)

    # 2. data: each rank draws its own batches (seed offset by rank)
    # (a recipe with its own data, e.g. the mesh refinement's pair set, brings its samplers)
    make = getattr(recipe, "make_sampler", None)
    seed = opts.seed + 1_000_003 * rank
    sampler: Sampler | None = None
    val_sampler: Sampler | None = None
    if opts.steps == 0:  # a check of the starting checkpoint: no data
        if getattr(recipe, "init", None) is None:
            raise PetraError(f"train {opts.variant}: steps 0 checks a starting checkpoint, but this recipe starts "
                             "from none (set steps >= 1, or e.g. train_mesh.refine.init: shipped)")
    else:
        sampler = make("train", opts.batch_size, seed) if make else PairSampler(
            manifest, "train", opts.batch_size, seed, opts.resolution, root, mode=opts.sampling)
        try:  # distinct pairs need a second identity, which a tiny val split may lack
            val_r = ("val", "train") if opts.sampling == "distinct" else None
            val_sampler = make("val", opts.batch_size, opts.seed + 7) if make else PairSampler(
                manifest, "val", opts.batch_size, opts.seed + 7, opts.resolution, root, r_splits=val_r,
                mode=opts.sampling)
        except ValueError as err:
            log(f"train: no validation ({err})")

    # 3. networks and optimiser
    if world > 1 and hasattr(recipe, "wrap_ddp"):
        recipe.wrap_ddp([device.index] if device.type == "cuda" else None)
    optimizer = make_optimizer(recipe.trainable_parameters(), opts)
    state = TrainState(cfg, params, opts, run_dir, recipe, optimizer, sampler, val_sampler, device,
                       rank=rank, world_size=world, tracker=tracker, log=log)

    # 4. resume (only what these params made), logs cut back to the checkpoint
    latest = ckpt.latest_checkpoint(run_dir) if resume else None
    obj = ckpt.load_checkpoint(latest, map_location=device) if latest is not None else None
    trained_past_check = obj is not None and opts.steps == 0 and int(obj["step"]) > 0
    if obj is not None and (trained_past_check or not _same_params(obj["config"].get("params", {}), params)):
        log(f"train: {latest} was made with other params; starting {opts.variant} over")
        if rank == 0:
            _discard_run(run_dir)
        obj = None
    if obj is not None and latest is not None:
        recipe.load_state_dict(obj["parts"])
        if obj.get("optimizer") is not None:
            optimizer.load_state_dict(obj["optimizer"])
        state.step = int(obj["step"])
        state.history = list(obj.get("extra", {}).get("history", []))
        state.best_val = obj.get("extra", {}).get("best_val")
        log(f"train: resumed {opts.variant} from {latest.name} (step {state.step})")
    if rank == 0:
        _cut_logs(run_dir, state.step, state.history)
    return state


def _same_params(saved: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """Whether a checkpoint's params are these (``steps`` may grow: training continues)."""
    def norm(p: Mapping[str, Any]) -> str:
        return json.dumps({k: v for k, v in dict(p).items() if k != "steps"}, sort_keys=True, default=str)

    return norm(saved) == norm(params)


def _discard_run(run_dir: Path) -> None:
    """Remove the checkpoints and logs of a run made with other params (all written by petra)."""
    for p in [p for _, p in ckpt.list_checkpoints(run_dir)] + [ckpt.best_path(run_dir)]:
        p.unlink(missing_ok=True)  # best.pt too: selection must not pick the old run's best
        sidecar(p).unlink(missing_ok=True)
    for name in ("metrics.jsonl", "val.jsonl", "summary.json"):
        (run_dir / name).unlink(missing_ok=True)


def _cut_logs(run_dir: Path, step: int, history: list[dict[str, float]]) -> None:
    """Make the jsonl logs what they were at ``step`` (rows after the checkpoint would repeat)."""
    def read(path: Path) -> list[dict[str, Any]]:
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # a line cut by a kill
                continue
        return out

    rows = {"metrics.jsonl": history}
    val = run_dir / "val.jsonl"
    if val.is_file():
        rows["val.jsonl"] = [r for r in read(val) if r.get("step", 0) <= step]
    for name, keep in rows.items():
        if keep or (run_dir / name).exists():
            write_text(run_dir / name, "".join(json.dumps(r, sort_keys=True) + "\n" for r in keep))


def validate(state: TrainState) -> dict[str, float]:
    """Mean validation terms over the fixed val batches 0..n-1 (n = val_batches, or the whole split)."""
    if state.val_sampler is None:
        return {}
    n = state.opts.val_batches or state.val_sampler.n_batches
    sums: dict[str, float] = {}
    state.recipe.train(False)
    for k in range(n):
        for name, v in state.recipe.validate(state.val_sampler.batch(k).to(state.device)).items():
            sums[name] = sums.get(name, 0.0) + float(v)
    state.recipe.train(True)
    return {f"val_{k}": v / n for k, v in sums.items()}


def keep_best(state: TrainState, val: Mapping[str, float]) -> Path | None:
    """``checkpoints/best.pt`` (no optimiser) when ``val_total`` beats every earlier validation."""
    total = val.get("val_total")
    if total is None or (state.best_val is not None and not total < state.best_val):
        return None
    state.best_val = float(total)
    return ckpt.save_checkpoint(ckpt.best_path(state.run_dir), state.recipe.state_dict(), _run_config(state),
                                state.step, None, extra={"val_total": float(total)})


def _run_config(state: TrainState) -> dict[str, Any]:
    return {"params": dict(state.params), "profile": state.cfg.get("profile"), "generator": state.cfg["generator"]}


def snapshot(state: TrainState) -> Path:
    """Save a checkpoint; older checkpoints drop their optimiser state (only the latest resumes).

    The optimiser state is 2-3× the trained weights (Ranger keeps three buffers; M alone
    is 170 M parameters at 1024 px), so keeping it in every snapshot would multiply disk use.
    """
    older = ckpt.list_checkpoints(state.run_dir)
    path = ckpt.save_checkpoint(
        ckpt.checkpoint_path(state.run_dir, state.step),
        state.recipe.state_dict(),
        _run_config(state),
        state.step,
        state.optimizer.state_dict(),
        extra={"history": state.history, "best_val": state.best_val},
    )
    for step, p in older:
        if step != state.step:
            ckpt.strip_optimizer(p)
    return path


def _append_jsonl(path: Path, row: Mapping[str, Any]) -> None:
    """Append one JSON line (small, whole-line appends; the file is a log, not an artifact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, sort_keys=True) + "\n")


def _sample_grid(state: TrainState) -> None:
    """``<run>/samples/step_NNNNNNN.png`` (and an MLflow artifact) when the recipe can draw one: what the
    model makes of the first validation batch, to look at while training runs."""
    draw = getattr(state.recipe, "sample_grid", None)
    if draw is None or state.val_sampler is None:
        return

    state.recipe.train(False)
    grid = draw(state.val_sampler.batch(0).to(state.device))
    state.recipe.train(True)
    path = state.run_dir / "samples" / f"step_{state.step:07d}.png"
    write_image(path, grid)
    if state.tracker is not None and hasattr(state.tracker, "log_artifact"):
        state.tracker.log_artifact(path, "samples")


def train_loop(state: TrainState) -> dict[str, Any]:
    """Optimise until ``opts.steps``; returns the run summary (also written to ``summary.json``)."""
    o, main = state.opts, state.rank == 0
    state.recipe.train(True)
    sums: dict[str, float] = {}
    n_acc, t_tick, t0, start = 0, time.time(), time.time(), state.step
    while state.step < o.steps:
        assert state.sampler is not None  # built by setup whenever steps > 0
        batch = state.sampler.batch(state.step).to(state.device)
        terms = state.recipe.step(batch)
        state.optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        state.optimizer.step()
        state.step += 1
        for k, v in terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach())
        n_acc += 1
        done = state.step >= o.steps
        if main and (state.step % o.tick_steps == 0 or done):
            means = {k: v / n_acc for k, v in sums.items()}
            sec = (time.time() - t_tick) / n_acc
            state.log(f"train {o.variant}: step {state.step:>7d}/{o.steps} "
                      + " ".join(f"{k} {v:.4f}" for k, v in sorted(means.items())) + f" sec/step {sec:.2f}")
            row = {"step": state.step, **means, "sec_per_step": sec}
            state.history.append(row)
            _append_jsonl(state.run_dir / "metrics.jsonl", row)
            if state.tracker is not None:
                state.tracker.log_metrics({f"train_{k}": v for k, v in means.items()}, step=state.step)
            sums, n_acc, t_tick = {}, 0, time.time()
        if main and (state.step % o.val_steps == 0 or done):
            val = validate(state)
            if val:
                _append_jsonl(state.run_dir / "val.jsonl", {"step": state.step, **val})
                if o.selection == "val_loss":
                    keep_best(state, val)
                if state.tracker is not None:
                    state.tracker.log_metrics(val, step=state.step)
                _sample_grid(state)
        if main and (state.step % o.checkpoint_steps == 0 or done):
            snapshot(state)
    check: dict[str, Any] = {}
    if o.steps == 0:
        init = Path(state.recipe.init)  # type: ignore[attr-defined]  # setup checked it
        if main and not ckpt.list_checkpoints(state.run_dir):
            snapshot(state)
        curves = ckpt.curves_path(init)
        check = {"check": {"init": str(init), "init_sha256": sha256_file(init),
                           "init_curves": str(curves) if curves.is_file() else None}}
        state.log(f"train {o.variant}: steps 0: a check of {init} (sha256 {check['check']['init_sha256'][:12]}…), "
                  "nothing trained")
    summary = {
        "variant": o.variant,
        "steps": state.step,
        "steps_this_run": state.step - start,
        "seconds_this_run": round(time.time() - t0, 3),
        "last": state.history[-1] if state.history else {},
        "checkpoints": [p.name for _, p in ckpt.list_checkpoints(state.run_dir)],
        "best_val_total": state.best_val,
        **check,
    }
    if main:
        write_json(state.run_dir / "summary.json", summary)
    return summary


def log_to(stream: Any = sys.stderr) -> Callable[[str], None]:
    def _log(msg: str) -> None:
        print(msg, file=stream, flush=True)

    return _log


__all__ = ["TrainOptions", "TrainState", "keep_best", "make_optimizer", "setup", "snapshot", "train_loop", "validate"]
