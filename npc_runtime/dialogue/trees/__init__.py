"""Branching dialogue trees: the model, generation, verification and exports."""
