"""Discrete architectures of a space: the topologies a derivation rule allows (`topology`),
derivation from mixing weights, genotypes and derived spaces (`derive`), and spaces pruned
to a subset of their candidates (`prune`)."""
