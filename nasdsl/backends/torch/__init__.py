"""The torch backend: IR modules to nn.Modules, edges (naive or planned) to runnable mixes."""
