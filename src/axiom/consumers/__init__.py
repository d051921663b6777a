"""The five consumers of the seed, all driven by one loop (:mod:`axiom.consumers.runner`)."""
