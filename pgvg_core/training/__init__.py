"""Training: an experiment built from its config, the loop and its callbacks, checkpoints, random streams,
several processes, run folders, and the weights a network starts from."""
