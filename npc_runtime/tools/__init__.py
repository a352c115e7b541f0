"""Tools: calls against the lore (values, grounding, validation) and their effects."""
