"""The latent-arithmetic baseline (thesis §4.1) and StyleGAN2 random identities."""
