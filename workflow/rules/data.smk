# data rules (see DESIGN.md §2)
