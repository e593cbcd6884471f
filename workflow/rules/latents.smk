# latents rules (see DESIGN.md §2)
