"""Pretraining parts: masks, the EMA update, the ViT encoder, the objective, and the pretrained
encoder checkpoint (load, refuse a mismatch naming the tensor, freeze)."""

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from monde.config import ModelConfig, PretrainConfig
from monde.models.encoder_checkpoint import load_encoder_into, save_encoder
from monde.models.vit import ViTEncoder, sincos_2d
from monde.models.world_model import WorldModel, build_encoder
from monde.pretrain.ema import ema_momentum, ema_update
from monde.pretrain.masks import block_indices, block_shape, sample_masks, whole_grid
from monde.pretrain.objective import MaskedLatentObjective, change_ratio

VIT = {"encoder": "vit", "image_size": 32, "encoder_patch": 8, "encoder_dim": 16}
VIT.update(encoder_depth=1, encoder_heads=2, latent_dim=8)


def test_block_shape_covers_the_scale_at_the_aspect():
    assert block_shape(8, 0.25, 1.0) == (4, 4)  # area 16 of 64
    assert block_shape(8, 0.15, 1.5) == (4, 3)  # h = round(√14.4) = 4, w = round(√6.4) = 3
    assert block_shape(8, 0.15, 0.75) == (3, 4)
    assert block_shape(4, 0.01, 1.0) == (1, 1)  # never empty
    assert block_shape(4, 1.0, 4.0) == (4, 2)  # never beyond the grid


def test_block_indices_are_row_major():
    assert block_indices(4, 1, 2, 2, 2).tolist() == [6, 7, 10, 11]


def test_masks_have_the_configured_shapes_and_ratios():
    cfg = PretrainConfig(target_blocks=3, target_scale=(0.1, 0.2), target_aspect=(0.5, 2.0))
    grid, batch = 32, 6  # a fine grid: rounding moves an area by < 1 %
    for seed in range(20):
        masks = sample_masks(grid, batch, cfg, np.random.default_rng(seed))
        assert len(masks.shapes) == 3
        sizes = [h * w for h, w in masks.shapes]
        assert masks.targets.shape == (batch, sum(sizes))
        assert masks.context.shape[0] == batch and masks.context.shape[1] >= 1
        for h, w in masks.shapes:
            assert 0.1 * 0.95 <= h * w / grid**2 <= 0.2 * 1.05
            assert 0.5 * 0.9 <= h / w <= 2.0 * 1.1
        for row in range(batch):
            start = 0
            for (h, w), size in zip(masks.shapes, sizes, strict=True):
                block = masks.targets[row, start : start + size].numpy()
                start += size
                top, left = block.min() // grid, block.min() % grid
                assert block.tolist() == block_indices(grid, top, left, h, w).tolist()
            context = masks.context[row].numpy()
            assert len(np.unique(context)) == len(context)  # no patch twice
            assert not set(context) & set(masks.targets[row].tolist())  # targets cut out
            assert len(context) <= cfg.context_scale[1] * grid**2


def test_contexts_come_from_a_square_block_of_the_configured_scale():
    cfg = PretrainConfig(target_blocks=1, target_scale=(0.01, 0.01), context_scale=(0.25, 0.25))
    masks = sample_masks(16, 3, cfg, np.random.default_rng(0))
    for row in masks.context.numpy():
        rows, cols = row // 16, row % 16
        assert rows.max() - rows.min() + 1 <= 8 and cols.max() - cols.min() + 1 <= 8
        assert len(row) >= 64 - 4  # the 8 × 8 block less at most the 2 × 2 target


def test_masks_are_a_function_of_the_generator():
    cfg = PretrainConfig()
    a = sample_masks(8, 4, cfg, np.random.default_rng([3, 7]))
    b = sample_masks(8, 4, cfg, np.random.default_rng([3, 7]))
    assert torch.equal(a.context, b.context) and torch.equal(a.targets, b.targets)


def test_ema_momentum_is_linear_from_start_to_end():
    assert ema_momentum(0, 100, 0.996, 1.0) == 0.996
    assert math.isclose(ema_momentum(50, 100, 0.996, 1.0), 0.998)
    assert ema_momentum(100, 100, 0.996, 1.0) == 1.0
    assert ema_momentum(500, 100, 0.996, 1.0) == 1.0


def test_ema_update_matches_its_formula():
    torch.manual_seed(0)
    target, online = nn.Linear(3, 2), nn.Linear(3, 2)
    before = [p.detach().clone() for p in target.parameters()]
    ema_update(target, online, 0.9)
    for t, t0, o in zip(target.parameters(), before, online.parameters(), strict=True):
        torch.testing.assert_close(t, 0.9 * t0 + 0.1 * o.detach())
    ema_update(target, online, 1.0)  # momentum 1 keeps the target
    ema_update(target, online, 0.0)  # momentum 0 copies the online encoder
    for t, o in zip(target.parameters(), online.parameters(), strict=True):
        assert torch.equal(t, o)


def test_sincos_codes_row_then_column():
    codes = sincos_2d(2, 4)  # ω = 1: [sin r, cos r, sin c, cos c]
    s, c = math.sin(1.0), math.cos(1.0)
    torch.testing.assert_close(codes[1], torch.tensor([0.0, 1.0, s, c]))  # patch (0, 1)
    torch.testing.assert_close(codes[3], torch.tensor([s, c, s, c]))  # patch (1, 1)


def test_vit_encoder_gives_tokens_and_the_pooled_latent():
    cfg = ModelConfig(**VIT)
    encoder = build_encoder(cfg)
    assert isinstance(encoder, ViTEncoder)
    x = torch.randn(3, 3, 32, 32)
    assert encoder.tokens(x).shape == (3, 16, 16)  # (N, T, E): a 4 × 4 grid of 8 px patches
    assert encoder.tokens(x, torch.tensor([[0, 5]] * 3)).shape == (3, 2, 16)
    assert encoder(x).shape == (3, 8)
    flat = build_encoder(ModelConfig(**{**VIT, "encoder_pool": "flatten"}))
    assert flat(x).shape == (3, 8)
    model = WorldModel(ModelConfig(**VIT))
    frames = np.zeros((2, 3, 32, 32, 3), np.uint8)
    assert model.encode(frames).shape == (2, 3, 8)


@pytest.mark.parametrize(
    ("anti_collapse", "sigreg_on"), [("ema", "tokens"), ("sigreg", "tokens"), ("sigreg", "frames")]
)
def test_objective_trains_encoder_and_predictor_but_not_the_target(anti_collapse, sigreg_on):
    torch.manual_seed(0)
    cfg = PretrainConfig(anti_collapse=anti_collapse, predictor_dim=8, predictor_depth=1)
    cfg.sigreg_on = sigreg_on
    backbone = build_encoder(ModelConfig(**VIT)).backbone
    objective = MaskedLatentObjective(backbone, cfg)
    masks = sample_masks(backbone.grid, 4, cfg, np.random.default_rng(0))
    loss, parts = objective(torch.randn(4, 3, 32, 32), masks, torch.Generator().manual_seed(0))
    loss.backward()
    assert math.isfinite(loss.item()) and ("sigreg" in parts) == (anti_collapse == "sigreg")
    assert all(p.grad is not None for p in objective.trainable())
    if anti_collapse == "ema":
        assert all(p.grad is None and not p.requires_grad for p in objective.target.parameters())
    else:
        assert objective.target is None


def test_pretrained_encoder_loads_and_a_mismatch_is_refused_naming_the_tensor(tmp_path):
    cfg = ModelConfig(**VIT)
    pretrained = build_encoder(cfg).backbone
    save_encoder(pretrained, cfg, tmp_path / "encoder", {"steps": 1})
    model = WorldModel(cfg)
    names = load_encoder_into(model.encoder, cfg, tmp_path / "encoder")
    assert "patch_embed.weight" in names
    for key, value in pretrained.state_dict().items():
        assert torch.equal(model.encoder.backbone.state_dict()[key], value)
    wider = ModelConfig(**{**VIT, "encoder_dim": 32})
    weights = tmp_path / "encoder" / "encoder.safetensors"
    with pytest.raises(ValueError) as err:
        load_encoder_into(WorldModel(wider).encoder, wider, tmp_path / "encoder")
    assert str(err.value) == (
        f"{weights}: tensor 'blocks.0.mlp.0.bias' has shape (64,), this model config's encoder "
        "expects (128,)"
    )
    more_heads = ModelConfig(**{**VIT, "encoder_heads": 4})  # the same shapes: the field says
    with pytest.raises(ValueError, match=r"config.json: encoder field model.encoder_heads is 2"):
        load_encoder_into(WorldModel(more_heads).encoder, more_heads, tmp_path / "encoder")
    cnn = ModelConfig(image_size=32, latent_dim=8)
    with pytest.raises(ValueError, match="model.encoder 'cnn' has no patch-token backbone"):
        load_encoder_into(WorldModel(cnn).encoder, cnn, tmp_path / "encoder")
    with pytest.raises(FileNotFoundError, match="not a pretrained encoder folder"):
        load_encoder_into(model.encoder, cfg, tmp_path)


def test_a_frozen_encoder_receives_no_gradient(tmp_path):
    cfg = ModelConfig(**VIT)
    save_encoder(build_encoder(cfg).backbone, cfg, tmp_path / "encoder")
    model = WorldModel(cfg)
    load_encoder_into(model.encoder, cfg, tmp_path / "encoder", freeze=True)
    frames = torch.randint(0, 255, (2, 3, 32, 32, 3), dtype=torch.uint8)
    z = model.encode(frames)
    model.predict(z[:, :-1], torch.randn(2, 2, cfg.action_dim)).square().mean().backward()
    assert all(p.grad is None for p in model.encoder.backbone.parameters())
    assert all(p.grad is not None for p in model.encoder.head.parameters())  # the readout trains


def test_masks_for_a_later_frame_keep_the_targets_in_the_context():
    cfg = PretrainConfig(target_offset=2, context_scale=(1.0, 1.0))
    masks = sample_masks(8, 3, cfg, np.random.default_rng(0))
    assert masks.context.shape == (3, 64)  # the whole frame: nothing cut out
    assert masks.targets.shape[1] == sum(h * w for h, w in masks.shapes)


CONV_VIT = {**VIT, "encoder": "conv_vit", "encoder_patch": 4, "encoder_channels": (8, 16, 16)}


def test_a_conv_stem_gives_a_token_per_cell_and_hides_the_cells_left_out():
    encoder = build_encoder(ModelConfig(**CONV_VIT))
    backbone = encoder.backbone
    assert backbone.grid == 2  # 32 px → 8 by the 4 px stem → 4 → 2 by the stride-2 stages
    x = torch.randn(3, 3, 32, 32)
    assert encoder.tokens(x).shape == (3, 4, 16) and encoder(x).shape == (3, 8)
    keep = torch.tensor([[0, 3]] * 3)  # cells (0, 0) and (1, 1)
    mask = backbone.pixel_mask(keep, 3)
    assert mask.shape == (3, 1, 32, 32) and mask.sum() == 3 * 2 * 16 * 16
    assert mask[0, 0, :16, :16].all() and mask[0, 0, 16:, 16:].all()
    assert not mask[0, 0, :16, 16:].any() and not mask[0, 0, 16:, :16].any()
    # the context's tokens do not change whatever the cells left out show
    changed = x.clone()
    changed[:, :, :16, 16:] = 100.0  # cell (0, 1)
    torch.testing.assert_close(encoder.tokens(x, keep), encoder.tokens(changed, keep))
    assert not torch.allclose(encoder.tokens(x), encoder.tokens(changed))


def test_a_conv_stem_checkpoint_records_its_channels(tmp_path):
    cfg = ModelConfig(**CONV_VIT)
    save_encoder(build_encoder(cfg).backbone, cfg, tmp_path / "encoder")
    model = WorldModel(cfg)
    names = load_encoder_into(model.encoder, cfg, tmp_path / "encoder")
    assert "patch_embed.0.weight" in names  # the stem's first conv
    other = ModelConfig(**{**CONV_VIT, "encoder_channels": (8, 16, 32)})
    with pytest.raises(ValueError, match=r"tensor 'patch_embed.5.bias' has shape \(16,\), "):
        load_encoder_into(WorldModel(other).encoder, other, tmp_path / "encoder")
    plain = ModelConfig(**{**CONV_VIT, "encoder": "vit", "encoder_patch": 16})  # 2 × 2 as well
    with pytest.raises(ValueError, match=r"tensor 'patch_embed.0.bias' \(8,\) is not in this"):
        load_encoder_into(WorldModel(plain).encoder, plain, tmp_path / "encoder")
    saved = json.loads((tmp_path / "encoder" / "config.json").read_text())["encoder"]
    assert saved["encoder"] == "conv_vit" and saved["encoder_channels"] == [8, 16, 16]


def test_a_shifted_view_predicts_every_token_told_its_shift():
    torch.manual_seed(0)
    cfg = PretrainConfig(predictor_dim=8, predictor_depth=1, view_shift=2)
    backbone = build_encoder(ModelConfig(**CONV_VIT)).backbone
    objective = MaskedLatentObjective(backbone, cfg)
    masks = whole_grid(backbone.grid, 3)
    assert (
        masks.context.tolist() == [[0, 1, 2, 3]] * 3
        and masks.targets.tolist() == [[0, 1, 2, 3]] * 3
    )
    x, seen = torch.randn(3, 3, 32, 32), torch.randn(3, 3, 32, 32)
    right, up = torch.tensor([[0.0, 1.0]] * 3), torch.tensor([[-1.0, 0.0]] * 3)
    loss, _ = objective(x, masks, view=(seen, right))
    loss.backward()
    assert objective.predictor.view.weight.grad.abs().sum() > 0  # the shift reaches the predictor
    assert backbone.patch_embed[0].weight.grad.abs().sum() > 0  # the context encoder trains
    with torch.no_grad():
        assert objective(x, masks, view=(seen, up))[0] != objective(x, masks, view=(seen, right))[0]
        assert objective(x, masks, view=(x, right))[0] != loss  # the context is the view's
    with pytest.raises(ValueError, match="pretrain.view_shift must be ≥ 0"):
        PretrainConfig(view_shift=-1)


def test_change_ratio_is_within_episode_over_between_episode_distance():
    # two tokens of two dims; layer norm maps (a, b) with a < b to (−1, 1) and a > b to (1, −1)
    now = torch.tensor([[[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])  # (B=2, T=2, E=2)
    moved = torch.tensor([[[0.0, 1.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]])
    # within: frame 0 changed one token (distance √8), frame 1 none → mean √2;
    # between: the two frames differ in both tokens (distance 4)
    assert change_ratio(now, moved).item() == pytest.approx(math.sqrt(2) / 4, abs=1e-4)
    assert change_ratio(3 * now + 1, 3 * moved + 1).item() == pytest.approx(
        change_ratio(now, moved).item(), abs=1e-6
    )  # scaling or shifting the tokens changes nothing


def test_the_change_floor_pushes_only_below_the_floor():
    torch.manual_seed(0)
    backbone = build_encoder(ModelConfig(**VIT)).backbone
    x, moved = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    masks = sample_masks(backbone.grid, 4, PretrainConfig(), np.random.default_rng(0))
    parts = {}
    for floor in (0.0, 10.0):  # 0: off (no term, no metric); 10: far above any ratio
        cfg = PretrainConfig(predictor_dim=8, predictor_depth=1, change_floor=floor)
        torch.manual_seed(1)
        objective = MaskedLatentObjective(backbone, cfg)
        loss, parts[floor] = objective(x, masks, moved=moved)
    assert "change_ratio" not in parts[0.0]
    ratio = parts[10.0]["change_ratio"].item()
    assert parts[10.0]["loss"].item() == pytest.approx(
        parts[0.0]["loss"].item() + 10.0 - ratio, abs=1e-5
    )
    with pytest.raises(ValueError, match="change_offset ≥ 1"):
        PretrainConfig(change_offset=0)
