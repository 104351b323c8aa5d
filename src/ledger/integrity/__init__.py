"""Tamper evidence (AU-2, OP-4): a hash chain over every stored event record, signed
checkpoints, and the verifier (README, "Tamper evidence").

``chain``: the hash formula (pure); ``checkpoints`` and ``keys``: signed checkpoints and the
Ed25519 key file; ``storage``: the chain's tables; ``sealer``: the follower that extends
the chain; ``verify`` and ``report``: the verifier and what it found; ``readonly``: the
read-only connection verification uses; ``decoding``: a stored event that no longer
decodes, reported as an integrity finding naming its position.
"""
