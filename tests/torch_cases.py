"""The optimizer table of the pygd.torch soundness and totality tests: torch.optim's five classes
that pygd.torch replaces, each with options that switch on its state tensors and decay."""

NAMES = ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")
HEAVY = {
    "SGD": dict(lr=0.1, momentum=0.9, weight_decay=0.01),
    "Adam": dict(lr=0.01, amsgrad=True, weight_decay=0.01),
    "AdamW": dict(lr=0.01, weight_decay=0.1),
    "RMSprop": dict(lr=0.01, centered=True, momentum=0.9),
    "Adagrad": dict(lr=0.1, lr_decay=0.01),
}
