# eval rules (see DESIGN.md §2)
