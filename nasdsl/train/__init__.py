"""Training a derived architecture from scratch (`nasdsl train`): the protocols as named
presets (`presets`), the architecture a user names turned into an evaluation network's
space (`architecture`), the training settings (`config`), the loop (`loop`) and the command
(`command`)."""
