"""All SQL of the catalogue: workflow rows, the task queue and the layer registry."""
