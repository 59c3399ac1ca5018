"""Test-wide settings."""

import torch

# The suite runs many tiny tensors; one thread is faster for them than several threads
# contending for two cores, and makes timings irrelevant to results.
torch.set_num_threads(1)
