"""Typed configuration: one dataclass per component, a one-line comment per field.

Values live in YAML presets under configs/; `monde.config_io` loads them with dotted
`a.b=c` overrides and rejects unknown keys. Every run saves its resolved config beside its
outputs, and every checkpoint carries the ModelConfig that rebuilds its model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from monde.registry import ENCODERS, POLICIES, PREDICTORS, SOLVERS, check_name, check_topk


@dataclass
class EnvConfig:
    name: str = "two_room"
    """environment name in monde.envs' registry"""
    image_size: int = 64
    """rendered frame side in pixels"""
    heldout_scenes: bool = False
    """collect on the environment's training scenes and evaluate on its held-out ones, so that
    no evaluation scene lies near one trained on (an env that offers a `scene_split` option,
    e.g. TwoRoom with options.random_wall: a checkerboard of wall/door cells)"""
    options: dict = field(default_factory=dict)
    """further settings of the environment's own config (e.g. random_wall: true for two_room,
    maze: medium for point_maze)"""
    frame_stack: int = 1
    """frames per observation: the current frame and the frame_stack − 1 before it, stacked on
    the channel axis (current first; model.in_channels = frame_stack × the env's channels), so
    that one observation shows how fast things move; a goal is its frame held still
    (monde/envs/frame_stack.py)"""
    random_wall: bool | None = field(default=None, metadata={"deprecated": True})
    """deprecated, read from older configs: true = options.random_wall: true"""
    heldout_walls: bool | None = field(default=None, metadata={"deprecated": True})
    """deprecated, read from older configs: the former name of heldout_scenes"""

    def __post_init__(self) -> None:
        if self.random_wall:  # older configs: a TwoRoom field; false was its default
            self.options = {**self.options, "random_wall": True}
        if self.heldout_walls is not None:
            self.heldout_scenes = self.heldout_scenes or self.heldout_walls
        self.random_wall = self.heldout_walls = None
        if self.frame_stack < 1:
            raise ValueError(f"env.frame_stack must be ≥ 1, got {self.frame_stack}")

    def env_kwargs(self, stage: Literal["collect", "eval"]) -> dict:
        """Keyword overrides for monde.envs.make_env when collecting or evaluating."""
        kwargs: dict = {"image_size": self.image_size, **self.options}
        if self.heldout_scenes:
            kwargs["scene_split"] = "train" if stage == "collect" else "heldout"
        if self.frame_stack != 1:
            kwargs["frame_stack"] = self.frame_stack
        return kwargs


@dataclass
class DataConfig:
    episodes: int = 200
    """episodes to collect"""
    steps_per_episode: int = 100
    """environment steps per episode"""
    policy: str = "auto"
    """collection policy: 'auto' (the environment's own default, from its registry entry) or
    a name in monde.registry.POLICIES: door_explorer (TwoRoom's scripted explorer), random
    (uniform actions), smooth_random (held random actions: Reacher, PointMaze, any Gym env) or
    pusht_pusher (PushT's scripted pushes)"""
    num_envs: int = 50
    """environments stepped together while collecting"""
    seed: int = 0
    """seed of the first collected episode (episode i uses seed + i)"""
    val_fraction: float = 0.1
    """fraction of episodes held out for validation losses and probes"""
    workers: int = 0
    """processes stepping environments while collecting (`monde collect --workers`); 0: chosen
    from the first batch, one per core where stepping outweighs writing (PushT), else 1 (this
    process); the episodes are the same whatever the number"""

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.steps_per_episode < 1 or self.num_envs < 1:
            raise ValueError("data.episodes, data.steps_per_episode and data.num_envs must be ≥ 1")
        if self.workers < 0:
            raise ValueError(f"data.workers must be ≥ 0 (0: one per core), got {self.workers}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"data.val_fraction must be in [0, 1), got {self.val_fraction}")
        check_name("data.policy", self.policy, ["auto", *POLICIES])


@dataclass
class ModelConfig:
    image_size: int = 64
    """input frame side in pixels"""
    in_channels: int = 3
    """input channels (3 for RGB)"""
    env_action_dim: int = 2
    """action dimensions of one environment step"""
    frameskip: int = 5
    """environment steps per model step; a model action is their concatenation"""
    latent_dim: int = 32
    """dimension D of the latent of one frame"""
    encoder: str = "cnn"
    """frame encoder family, a name in monde.registry.ENCODERS"""
    encoder_patch: int = 4
    """kernel and stride of the encoder's patchify stem"""
    encoder_channels: tuple[int, ...] = (32, 64, 64)
    """output channels of the stem, then of each stride-2 conv stage (stride 1 for
    cnn_keypoints, which keeps the stem's resolution)"""
    keypoints: int = 16
    """cnn_keypoints: soft-argmax keypoints K (2K coordinates, mapped linearly to the latent)"""
    encoder_dim: int = 64
    """vit: token width E (a multiple of 4 and of encoder_heads)"""
    encoder_depth: int = 4
    """vit: transformer blocks over the patch tokens"""
    encoder_heads: int = 4
    """vit: attention heads"""
    encoder_pool: Literal["mean", "flatten"] = "mean"
    """vit: how the tokens become the latent: their mean, or all of them flattened (keeps
    where things are; T·E inputs to the readout)"""
    predictor: str = "gru"
    """predictor family, a name in monde.registry.PREDICTORS: mlp, gru or transformer"""
    predictor_dim: int = 64
    """hidden width of the predictor"""
    predictor_depth: int = 1
    """GRU layers, or transformer blocks"""
    predictor_heads: int = 4
    """attention heads (transformer only)"""
    history: int = 1
    """context frames the predictor conditions on"""
    max_context: int = 8
    """longest frame sequence the transformer attends over"""
    latent_tokens: int = 0
    """the image latent (D − P dims) as this many tokens of (D − P) / latent_tokens dims: what
    encoder 'cnn_grid' writes (a square, one token per image cell, row-major) and predictor
    'token_transformer' reads; 0: one vector"""
    inverse_dynamics: bool = True
    """add an inverse-dynamics head a_t = g(z_t, z_{t+1}) (used by the training loss only)"""
    proprio: list[str] = field(default_factory=list)
    """state columns fused with the image as proprioception, by name (the robot's own sensors,
    e.g. joint angles; see each env's `proprio` in the registry): normalised, they are the last
    P of the latent's latent_dim dims; empty: pixels only"""
    proprio_indices: list[int] = field(default_factory=list)
    """where the `proprio` columns lie in the state vector: filled in by training from the
    data's state names (leave empty)"""

    @property
    def proprio_dim(self) -> int:
        """P: proprioceptive inputs of the encoder (0 for pixels only)."""
        return len(self.proprio)

    @property
    def action_dim(self) -> int:
        """A: dimensions of one model action (frameskip environment actions, concatenated)."""
        return self.frameskip * self.env_action_dim

    def __post_init__(self) -> None:
        check_name("model.predictor", self.predictor, PREDICTORS)
        check_name("model.encoder", self.encoder, ENCODERS)
        if self.history < 1 or self.frameskip < 1 or self.latent_dim < 1:
            raise ValueError("model.history, model.frameskip and model.latent_dim must be ≥ 1")
        if self.predictor_depth < 1 or not self.encoder_channels:
            raise ValueError(
                "model.predictor_depth must be ≥ 1 and model.encoder_channels non-empty"
            )
        if self.encoder_depth < 1 or self.encoder_dim % math.lcm(4, self.encoder_heads):
            raise ValueError(
                f"model.encoder_depth must be ≥ 1 and model.encoder_dim {self.encoder_dim} a "
                f"multiple of 4 and of model.encoder_heads {self.encoder_heads}"
            )
        if self.proprio and self.latent_dim <= len(self.proprio):
            raise ValueError(
                f"model.latent_dim {self.latent_dim} must exceed the {len(self.proprio)} "
                "proprioceptive dims it holds"
            )
        if self.proprio_indices and len(self.proprio_indices) != len(self.proprio):
            raise ValueError(
                f"model.proprio_indices {self.proprio_indices} must give one state column per "
                f"name of model.proprio {self.proprio}"
            )

    def resolve_proprio(self, state_names: list[str] | tuple[str, ...], source: str) -> None:
        """Fill `proprio_indices` from the data's state names; a missing name names `source`."""
        missing = [n for n in self.proprio if n not in state_names]
        if missing:
            raise ValueError(
                f"{source}: model.proprio names {missing} that are not state columns; the state "
                f"columns are {list(state_names)}"
            )
        self.proprio_indices = [list(state_names).index(n) for n in self.proprio]


def _legacy_bf16(precision: str, bf16: bool | None, section: str) -> tuple[str, None]:
    """A config's `precision` after the deprecated `bf16` flag of older configs: the flag
    decides only while precision is 'auto'; it is then cleared (saved configs hold precision)."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"{section}.precision must be 'auto', 'fp32' or 'bf16', got {precision!r}")
    if bf16 is not None and precision == "auto":
        return ("bf16" if bf16 else "fp32"), None
    return precision, None


@dataclass
class TrainConfig:
    steps: int = 2000
    """optimizer steps"""
    batch_size: int = 64
    """windows per optimizer step: the global batch, split across torchrun processes"""
    lr: float = 1e-3
    """AdamW peak learning rate (cosine decay to 10 %, linear warm-up)"""
    warmup_steps: int = 100
    """linear learning-rate warm-up"""
    weight_decay: float = 1e-4
    """AdamW weight decay"""
    grad_clip: float = 1.0
    """gradient norm clip (0 disables)"""
    rollout_steps: int = 4
    """predicted model steps in the multi-step rollout loss (the window holds history + these)"""
    teacher_forcing_weight: float = 1.0
    """weight of the one-step teacher-forced prediction loss"""
    rollout_weight: float = 1.0
    """weight of the multi-step rollout loss"""
    regularizer: Literal["vicreg", "sigreg"] = "vicreg"
    """anti-collapse regulariser on encoder latents"""
    variance_weight: float = 1.0
    """VICReg variance hinge weight"""
    covariance_weight: float = 0.1
    """VICReg covariance weight"""
    sigreg_weight: float = 0.1
    """SIGReg weight"""
    sigreg_projections: int = 256
    """random 1-D projections per SIGReg evaluation"""
    inverse_dynamics_weight: float = 1.0
    """weight of the inverse-dynamics loss (needs model.inverse_dynamics)"""
    time_similarity_weight: float = 0.0
    """weight of ‖z_{t+1} − z_t‖² smoothing along trajectories"""
    time_contrast_weight: float = 0.0
    """weight of the time-contrastive term (monde.train.objective.time_contrast): within each
    training window, the latent of the next step must lie nearer than those two or more steps
    away (InfoNCE). Frames of one window share the scene, so telling them apart takes what
    moves — an arm's pose, which the prediction loss alone lets go where the dynamics do not
    depend on it (Reacher's shoulder angle). 0 disables"""
    time_contrast_temperature: float = 0.1
    """temperature of the time-contrastive logits (−mean squared latent distance / this)"""
    batch_contrast_weight: float = 0.0
    """weight of the contrastive prediction term (monde.train.objective.batch_contrast): each
    one-step prediction must lie nearer its own next latent than the next latents of the
    batch's other windows, at the same step (InfoNCE; C-SWM's contrastive world model). Other
    windows are other scenes and object poses, so telling them apart takes what stays still
    in a window — a block the prediction loss alone may hold coarsely. 0 disables; under DDP
    the negatives are the process's own windows"""
    batch_contrast_temperature: float = 0.1
    """temperature of the contrastive prediction logits (−mean squared distance / this)"""
    shift_augment: int = 0
    """random-shift augmentation, pixels: each training window is translated by its own
    (dy, dx) in [−k, k]², the same for all its frames, edges repeated (monde.data.augment;
    0 disables)"""
    symmetry_augment: bool = False
    """symmetry augmentation: each training window is mirrored or not and turned by 0–3
    quarter turns, its frames and its actions' (x, y) displacements alike (monde.data.augment);
    only for an environment whose registry entry declares `planar_symmetry` (PushT)"""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """'auto': bf16 autocast of the forward pass where it was measured faster (CUDA with bf16;
    a CPU with AVX512-BF16; one with AMX-BF16 at one thread per process), fp32 elsewhere
    (monde.precision); or 'fp32' / 'bf16'"""
    bf16: bool | None = field(default=None, metadata={"deprecated": True})
    """deprecated, read from older configs: true/false = precision bf16/fp32 (if precision is
    auto)"""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """where to train: 'auto' picks the GPU of this process's LOCAL_RANK when CUDA is present"""
    compile: bool = False
    """torch.compile the model and loss (needs a C++ compiler on CPU; first steps are slow)"""
    grad_accum_steps: int = 1
    """micro-batches per optimizer step: each rank's rows of the global batch are split into
    this many, gradients summed; the regulariser then sees one micro-batch of every rank"""
    keep_checkpoints: int = 2
    """newest resumable checkpoints kept on disk"""
    seed: int = 0
    """seed of initialisation and data order"""
    ensemble: int = 1
    """world models trained on the same data, member i with seed `seed + i`, one after another
    (RUN/members/<i>); RUN/model is then their ensemble, whose planning cost is the mean of the
    members' costs (monde.models.ensemble). 1: one model, trained in RUN itself"""
    threads: int = 0
    """torch CPU threads of training and of the evaluation after it (`monde demo`, `monde
    eval`); 0 keeps torch's default"""
    log_every: int = 50
    """steps between metric rows"""
    checkpoint_every: int = 500
    """steps between resumable checkpoints"""
    probe_every: int = 500
    """steps between held-out probes of the agent state (0 disables)"""
    encoder_init: str = ""
    """a pretrained encoder folder (RUN/encoder of `monde pretrain`) whose backbone weights
    start the model's encoder; its encoder config must match model's ("": random init)"""
    model_init: str = ""
    """a trained world model's folder (RUN/model) whose weights start this run's model, to
    post-train it on other data: its model config must equal this run's, and its
    proprioception statistics are kept ("": random init)"""
    freeze_encoder: bool = False
    """with encoder_init: keep the pretrained backbone fixed; with model_init: the whole
    encoder (no gradient, not in the optimizer); false: fine-tune it with the rest"""

    def __post_init__(self) -> None:
        self.precision, self.bf16 = _legacy_bf16(self.precision, self.bf16, "train")
        if self.steps < 1 or self.batch_size < 2:
            raise ValueError("train.steps must be ≥ 1 and train.batch_size ≥ 2")
        if self.rollout_steps < 1:
            raise ValueError(f"train.rollout_steps must be ≥ 1, got {self.rollout_steps}")
        if self.log_every < 1 or self.checkpoint_every < 0 or self.probe_every < 0:
            raise ValueError("train.log_every must be ≥ 1; checkpoint_every and probe_every ≥ 0")
        if self.shift_augment < 0:
            raise ValueError(f"train.shift_augment must be ≥ 0 pixels, got {self.shift_augment}")
        if self.grad_accum_steps < 1 or self.keep_checkpoints < 1:
            raise ValueError("train.grad_accum_steps and train.keep_checkpoints must be ≥ 1")
        if self.ensemble < 1:
            raise ValueError(f"train.ensemble must be ≥ 1 member, got {self.ensemble}")
        if self.batch_size % self.grad_accum_steps:
            raise ValueError(
                f"train.batch_size {self.batch_size} must be divisible by "
                f"train.grad_accum_steps {self.grad_accum_steps}"
            )
        if self.freeze_encoder and not (self.encoder_init or self.model_init):
            raise ValueError(
                "train.freeze_encoder needs train.encoder_init (a pretrained encoder) or "
                "train.model_init (a trained model)"
            )
        if self.encoder_init and self.model_init:
            raise ValueError(
                "train.encoder_init and train.model_init both start the encoder: give one"
            )
        if self.time_contrast_weight < 0 or self.time_contrast_temperature <= 0:
            raise ValueError(
                "train.time_contrast_weight must be ≥ 0 and train.time_contrast_temperature > 0"
            )
        if self.batch_contrast_weight < 0 or self.batch_contrast_temperature <= 0:
            raise ValueError(
                "train.batch_contrast_weight must be ≥ 0 and train.batch_contrast_temperature > 0"
            )
        if self.time_contrast_weight > 0 and self.rollout_steps < 2:
            raise ValueError(
                "train.time_contrast_weight needs windows of ≥ 3 steps (train.rollout_steps ≥ 2): "
                "a step two or more away from each anchor"
            )


@dataclass
class PlanConfig:
    horizon: int = 5
    """model steps planned ahead (each is model.frameskip environment steps)"""
    receding: int = 1
    """model steps executed before replanning"""
    samples: int = 300
    """candidate sequences per round (gradient: sequences descended in parallel)"""
    iterations: int = 10
    """refinement rounds (gradient: Adam steps)"""
    topk: int = 30
    """elites (cem, icem; mppi and gradient report this many for warm starts)"""
    repeat_actions: bool = True
    """search one env action per model step, repeated frameskip times, not frameskip free ones"""
    init_std: float = 1.0
    """initial CEM sampling std (actions lie in [−1, 1])"""
    min_std: float = 0.05
    """floor on the CEM sampling std"""
    metric: Literal["l2", "l1", "cosine"] = "l2"
    """latent distance to the goal"""
    reduce: Literal["sum", "last", "discounted", "min"] = "sum"
    """how distances along the horizon become one cost: their sum, the last one, a discounted
    sum (plan.discount) or the smallest (monde.plan.cost.reduce_horizon)"""
    discount: float = 1.0
    """discount of the 'discounted' reduction: step h weighs discount ** h, so below 1 the near
    steps count more and above 1 the far ones (measured on PushT: docs/planning.md)"""
    mean_weight: float = 0.0
    """added to any reduction: this weight times the mean distance over the horizon; with
    'min' it prefers, among plans whose closest steps are as close, the one that stays close"""
    ensemble_cost: Literal["joint", "mean", "max"] = "joint"
    """how an ensemble's members' costs make one (monde.plan.cost.ensemble_goal_cost): 'joint'
    the cost of their latents side by side, 'mean' the mean of each member's own cost, 'max'
    its most pessimistic member's; one model is an ensemble of one"""
    solver: str = "cem"
    """planning solver, a name in monde.registry.SOLVERS: cem, icem, mppi, gradient or
    cem_gradient; samples × iterations is the budget of each"""
    momentum: float = 0.0
    """cem/icem: weight of the old mean/std when refitting to the elites"""
    noise_beta: float = 2.0
    """icem: exponent of the coloured sampling noise, power ∝ 1/f^beta along the horizon"""
    keep_elites: float = 0.3
    """icem: fraction of the elites carried into the next round (and shifted into the next call)"""
    temperature: float = 0.1
    """mppi: softmin temperature on costs normalised to [0, 1]"""
    lr: float = 0.1
    """gradient, cem_gradient: Adam step size on the actions"""
    refine_steps: int = 10
    """cem_gradient: Adam steps after CEM"""
    refine_starts: int = 8
    """cem_gradient: sequences refined by gradient (CEM's best and elites), ≤ topk + 1"""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """'auto': bf16 autocast of the rollout on a GPU with native bf16, fp32 elsewhere (on a
    CPU, even with AMX, small rollouts ran slower in bf16: monde.precision); or 'fp32' / 'bf16'"""
    bf16: bool | None = field(default=None, metadata={"deprecated": True})
    """deprecated, read from older configs: true/false = precision bf16/fp32 (if precision is
    auto)"""
    compile: bool = False
    """torch.compile the rollout (tens of seconds of compilation on the first call)"""
    chunk: int = 0
    """samples rolled out at once per episode (0: all); bounds the planner's memory"""
    waypoints: int = 0
    """training episodes whose frames form a waypoint graph (monde.plan.waypoints) that gives
    each replanning call a subgoal on the way to the goal, around walls; 0: aim at the goal"""
    waypoint_lookahead: int = 3
    """model steps down the graph's shortest path from the current latent to the subgoal"""
    solver_options: dict[str, Any] = field(default_factory=dict)
    """the configured solver's own settings, by the names of its config class (e.g.
    {noise_beta: 2.5} for icem, or plan.solver_options.noise_beta=2.5 on the command line):
    they override what the flat fields above give it, and a solver added later keeps its new
    settings here; an unknown name is refused when the planner is built"""
    proprio_weights: dict[str, float] = field(default_factory=dict)
    """weight in the planning cost of a proprioceptive column of the model (model.proprio; the
    others weigh 1), e.g. {vx: 0, vy: 0}: plan on where the ball is, not on how fast it goes;
    the waypoint graph's distances stay unweighted"""
    image_weight: float = 1.0
    """weight in the planning cost of the image latent's dims (all but the proprioceptive
    columns); 0 plans on the weighted proprioceptive columns alone"""
    drop_action_variance: float = 0.0
    """leave out of the planning cost the latent directions that hold this fraction of what one
    model step's action moves in the prediction (monde.plan.action_subspace), measured by the
    model on `plan.metric_episodes` of its training episodes: meant to leave out the agent's
    own place and keep what it moves only by pushing (on PushT it separates neither:
    docs/environments.md); 0: the whole latent counts"""
    metric_episodes: int = 200
    """training episodes whose latents measure `plan.drop_action_variance`'s directions"""

    def __post_init__(self) -> None:
        self.precision, self.bf16 = _legacy_bf16(self.precision, self.bf16, "plan")
        if not math.isfinite(self.image_weight) or self.image_weight < 0:
            raise ValueError(f"plan.image_weight must be finite and ≥ 0, got {self.image_weight}")
        for name in ("discount", "mean_weight"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"plan.{name} must be finite and ≥ 0, got {value}")
        if not 0.0 <= self.drop_action_variance < 1.0 or self.metric_episodes < 1:
            raise ValueError(
                "plan.drop_action_variance must be in [0, 1) and plan.metric_episodes ≥ 1; got "
                f"{self.drop_action_variance} and {self.metric_episodes}"
            )
        for name, weight in self.proprio_weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(
                    f"plan.proprio_weights.{name} must be finite and ≥ 0, got {weight}"
                )
        if self.waypoints < 0 or self.waypoint_lookahead < 1:
            raise ValueError("plan.waypoints must be ≥ 0 and plan.waypoint_lookahead ≥ 1")
        check_name("plan.solver", self.solver, SOLVERS)
        if self.chunk < 0 or self.refine_steps < 1 or self.refine_starts < 1:
            raise ValueError("plan.chunk must be ≥ 0, plan.refine_steps and refine_starts ≥ 1")
        check_topk("plan", self.topk, self.samples)
        if self.horizon < 1 or not 1 <= self.receding <= self.horizon:
            raise ValueError(
                f"plan.horizon must be ≥ 1 and 1 ≤ plan.receding ≤ horizon; got horizon "
                f"{self.horizon}, receding {self.receding}"
            )


@dataclass
class EvalConfig:
    episodes: int = 100
    """goal-reaching episodes"""
    seed: int = 1_000_000
    """seed of the first evaluation episode; far from the collection seeds"""
    max_steps: int = 100
    """environment-step budget per episode"""
    batch: int = 100
    """episodes planned together"""
    random_baseline: bool = True
    """also run uniform random actions on the same episodes"""
    protocol: Literal["monde", "swm"] = "monde"
    """goals sampled by the env ('monde'), or goal_steps ahead on a trajectory of the collection
    policy ('swm', stable-worldmodel's protocol)"""
    goal_steps: int = 25
    """with protocol 'swm': env steps of the collection policy from the start to the goal"""

    def __post_init__(self) -> None:
        if self.episodes < 1 or self.batch < 1 or self.max_steps < 1 or self.goal_steps < 1:
            raise ValueError(
                "eval.episodes, eval.batch, eval.max_steps and eval.goal_steps must be ≥ 1"
            )


@dataclass
class PretrainConfig:
    """`monde pretrain`: masked latent prediction over the patch tokens of model.encoder 'vit'
    (I-JEPA), from frames alone (monde.pretrain). The encoder's shape is the model section's."""

    steps: int = 2000
    """optimizer steps"""
    batch_size: int = 64
    """frames per optimizer step"""
    lr: float = 1e-3
    """AdamW peak learning rate (linear warm-up, cosine decay to 10 %)"""
    warmup_steps: int = 100
    """linear learning-rate warm-up"""
    weight_decay: float = 0.04
    """AdamW weight decay"""
    grad_clip: float = 1.0
    """gradient norm clip (0 disables)"""
    anti_collapse: Literal["ema", "sigreg"] = "ema"
    """what keeps the latents from collapsing: 'ema' — targets from an exponential moving
    average of the encoder, no gradient through them (I-JEPA); 'sigreg' — targets from the
    encoder itself, with SIGReg pulling its tokens towards an isotropic Gaussian (LeJEPA)"""
    ema_momentum: tuple[float, float] = (0.996, 1.0)
    """ema: target momentum at the first and the last step, linear in between"""
    sigreg_weight: float = 0.05
    """sigreg: weight of SIGReg on the full frame's tokens"""
    sigreg_projections: int = 256
    """sigreg: random 1-D projections per evaluation"""
    sigreg_on: Literal["tokens", "frames"] = "tokens"
    """sigreg: what it spreads — every token of the batch (B·T samples), or each frame's mean
    token (B samples: one embedding per frame, as LeJEPA's global views)"""
    predictor_dim: int = 32
    """width of the narrow predictor that maps context tokens to the masked ones"""
    predictor_depth: int = 2
    """predictor transformer blocks"""
    predictor_heads: int = 4
    """predictor attention heads"""
    target_blocks: int = 4
    """masked blocks whose latents are predicted, per frame"""
    target_offset: int = 0
    """frames between the context frame and the frame whose masked blocks are predicted, in
    one episode: 0, the same frame (I-JEPA: the targets are cut out of the context); k > 0,
    k frames later, from the whole context block (the present predicting the future, without
    actions)"""
    view_shift: int = 0
    """k > 0: no masks — the context is the whole frame translated by a random (dy, dx) in
    [−k, k]² pixels (edges repeated), and the predictor, told the shift, predicts every token of
    the untranslated frame (of the frame target_offset steps later with target_offset > 0).
    What the context shows stays predictable, so small things (an agent of a few pixels) are
    not dropped as masked blocks drop what no context patch shows"""
    change_floor: float = 0.0
    """ρ > 0: how much of the tokens' spread must be what changes within an episode. A frames-only
    objective learns what differs most between frames — on TwoRoom the walls and door — and lets
    a small moving thing fade (benchmarks/token_sensitivity.py); this term, weighted by
    change_weight, is relu(ρ − r) with r = the mean distance between the layer-normalised
    tokens of a frame and of the frame change_offset steps later in its episode, over the mean
    distance between frames of different episodes (monde.pretrain.objective.change_ratio)"""
    change_offset: int = 4
    """change_floor: frames between the two frames of one episode"""
    change_weight: float = 1.0
    """change_floor: weight of the hinge in the loss"""
    target_scale: tuple[float, float] = (0.15, 0.2)
    """range of a target block's area, as a fraction of the patch grid"""
    target_aspect: tuple[float, float] = (0.75, 1.5)
    """range of a target block's height / width"""
    context_scale: tuple[float, float] = (0.85, 1.0)
    """range of the (square) context block's area; the target blocks are cut out of it"""
    probe_frames: int = 2000
    """frames of training and of held-out episodes for the linear probe of the pooled tokens
    (states are read for the probe only)"""
    probe_every: int = 500
    """steps between probes (0: only at the end)"""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """where to pretrain: 'auto' picks the GPU when CUDA is present"""
    threads: int = 0
    """torch CPU threads (0 keeps torch's default)"""
    seed: int = 0
    """seed of initialisation, frame order and masks"""
    log_every: int = 50
    """steps between metric rows"""
    checkpoint_every: int = 500
    """steps between resumable checkpoints"""
    keep_checkpoints: int = 2
    """newest resumable checkpoints kept on disk"""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 2 or self.log_every < 1:
            raise ValueError("pretrain.steps and log_every must be ≥ 1, pretrain.batch_size ≥ 2")
        if self.checkpoint_every < 0 or self.probe_every < 0 or self.keep_checkpoints < 1:
            raise ValueError(
                "pretrain.checkpoint_every and probe_every must be ≥ 0, keep_checkpoints ≥ 1"
            )
        if self.target_blocks < 1 or self.predictor_depth < 1 or self.target_offset < 0:
            raise ValueError(
                "pretrain.target_blocks and predictor_depth must be ≥ 1, target_offset ≥ 0"
            )
        if self.change_floor < 0 or self.change_offset < 1 or self.change_weight < 0:
            raise ValueError(
                "pretrain.change_floor and change_weight must be ≥ 0, change_offset ≥ 1 frame"
            )
        if self.view_shift < 0:
            raise ValueError(f"pretrain.view_shift must be ≥ 0 pixels, got {self.view_shift}")
        if self.predictor_dim % math.lcm(4, self.predictor_heads):
            raise ValueError(
                f"pretrain.predictor_dim {self.predictor_dim} must be a multiple of 4 and of "
                f"pretrain.predictor_heads {self.predictor_heads}"
            )
        for name in ("ema_momentum", "target_scale", "target_aspect", "context_scale"):
            low, high = getattr(self, name)
            if not 0 < low <= high or (name != "target_aspect" and high > 1):
                raise ValueError(
                    f"pretrain.{name} must be a range 0 < low ≤ high"
                    f"{'' if name == 'target_aspect' else ' ≤ 1'}, got {[low, high]}"
                )


@dataclass
class PostTrainConfig:
    """A second training stage of `monde demo` and `monde bench`, after `train`: the trained
    model post-trained on episodes of another collection policy, its encoder frozen
    (train.model_init, train.freeze_encoder; docs/pretraining.md). The run's model is then the
    post-trained one; the first stage's lies in RUN/base."""

    steps: int = 0
    """optimizer steps of the post-training stage (0: no post-training)"""
    lr: float = 3e-4
    """its peak learning rate (train's warm-up, then cosine decay to 10 %)"""
    policy: str = ""
    """data.policy of its episodes, as many as data.episodes, collected beside the training
    store ("": it post-trains on the training episodes themselves)"""
    freeze_encoder: bool = True
    """keep the trained encoder bit-equal; false: fine-tune it too"""

    def __post_init__(self) -> None:
        if self.steps < 0 or not math.isfinite(self.lr) or self.lr <= 0:
            raise ValueError(
                f"post_train.steps must be ≥ 0 and post_train.lr finite and > 0, got "
                f"{self.steps} and {self.lr}"
            )
        if self.policy:
            check_name("post_train.policy", self.policy, ["auto", *POLICIES])


@dataclass
class RunConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    plan: PlanConfig = field(default_factory=PlanConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    post_train: PostTrainConfig = field(default_factory=PostTrainConfig)

    def __post_init__(self) -> None:
        if self.post_train.steps and self.train.ensemble > 1:
            raise ValueError(
                "post_train post-trains one model; with train.ensemble > 1 post-train each "
                "member with train.model_init and join them with `monde ensemble`"
            )
