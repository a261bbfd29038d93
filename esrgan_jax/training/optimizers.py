"""A stage's optimiser from composable optax pieces, with the option names of traiNNer-redux / neosr: gradient clipping
by global norm (`grad_clip`), Adam or schedule-free AdamW (`optimizer`), a linear learning-rate warmup (`warmup_iter`)
in front of the stage's schedule, and gradient accumulation over `accum_iter` micro-batches (`optax.MultiSteps`).

With accumulation every step call takes one micro-batch; the optimiser applies the mean of `accum_iter` micro-batch
gradients once, on the last of them (the others leave the params unchanged). Schedules, warmup and schedule-free's
averaging count those updates; the train loop's steps (num_steps, the *_every_steps) count micro-batches. The
accumulated gradient lives in the optimiser state, so a checkpoint taken mid-accumulation resumes bit for bit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import optax

if TYPE_CHECKING:  # configs are ConfigDicts; only attribute access is needed
  import ml_collections

OPTIMIZERS = ('adam', 'schedule_free_adamw')


def with_warmup(schedule: optax.Schedule, base_lr: float, warmup_iter: int) -> optax.Schedule:
  """BasicSR's linear warmup (traiNNer-redux's `warmup_iter`): update i (0-based) runs at base_lr * (i + 1) /
  warmup_iter while i + 1 < warmup_iter, then at `schedule(i)`: the schedule's clock is not delayed. 0 or 1: off."""
  if warmup_iter <= 1:
    return schedule
  return lambda count: jnp.where(count + 1 < warmup_iter, base_lr * (count + 1) / warmup_iter, schedule(count))


def create_optimizer(
  stage: ml_collections.ConfigDict, base_lr: float, schedule: optax.Schedule
) -> optax.GradientTransformation:
  """clip_by_global_norm(grad_clip) (if > 0) -> Adam or schedule-free AdamW at `with_warmup(schedule)`, wrapped in
  `optax.MultiSteps(accum_iter)` (if > 1). With the defaults, exactly `optax.adam(schedule, b1, b2)`."""
  learning_rate = with_warmup(schedule, base_lr, stage.warmup_iter)
  if stage.optimizer == 'adam':
    tx = optax.adam(learning_rate, b1=stage.b1, b2=stage.b2)
  elif stage.optimizer == 'schedule_free_adamw':
    tx = optax.contrib.schedule_free_adamw(learning_rate, b1=stage.b1, b2=stage.b2, weight_decay=stage.weight_decay)
  else:
    raise ValueError(f'optimizer must be one of {OPTIMIZERS}, got {stage.optimizer!r}.')
  if stage.grad_clip:
    tx = optax.chain(optax.clip_by_global_norm(stage.grad_clip), tx)
  if stage.accum_iter > 1:
    tx = optax.MultiSteps(tx, stage.accum_iter).gradient_transformation()
  return tx


def iteration_learning_rate(stage: ml_collections.ConfigDict, base_lr: float, schedule: optax.Schedule) -> Any:
  """The learning rate of train-loop step i (0-based, one micro-batch): the warmed-up schedule at update
  i // accum_iter, as the optimiser of `create_optimizer` applies it."""
  learning_rate = with_warmup(schedule, base_lr, stage.warmup_iter)
  return lambda i: learning_rate(i // stage.accum_iter)


def _multi_steps_state(opt_state: Any) -> optax.MultiStepsState | None:
  return opt_state if isinstance(opt_state, optax.MultiStepsState) else None


def updates_done(opt_state: Any, step: jax.Array) -> jax.Array:
  """How many optimiser updates preceded train-loop step `step` (0-based): `step` itself without accumulation."""
  multi = _multi_steps_state(opt_state)
  return step if multi is None else multi.gradient_step


def update_applied(new_opt_state: Any) -> jax.Array | bool:
  """Whether the step that produced `new_opt_state` applied an update (always, without accumulation)."""
  multi = _multi_steps_state(new_opt_state)
  return True if multi is None else multi.mini_step == 0


def eval_params(opt_state: Any, params: Any) -> Any:
  """The params to evaluate and export: schedule-free's averaged sequence x (`schedule_free_eval_params`) when the
  optimiser is schedule-free, else `params` as they are."""
  is_free = lambda x: isinstance(x, optax.contrib.ScheduleFreeState)
  free = [x for x in jax.tree.leaves(opt_state, is_leaf=is_free) if is_free(x)]
  return optax.contrib.schedule_free_eval_params(free[0], params) if free else params
