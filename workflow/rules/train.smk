# train rules (see DESIGN.md §2)
