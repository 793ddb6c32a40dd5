"""Self-supervised encoder pretraining from frames alone (`monde pretrain`).

masks (which patches the context sees, which are predicted) · ema (the target encoder's
moving average) · objective (masked latent prediction, EMA or SIGReg against collapse) ·
loop (the resumable run: data, steps, checkpoints, probes, the encoder checkpoint).
"""
