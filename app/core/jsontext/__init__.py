"""JSON as text: where each key and value sits in it (:mod:`.locate`), and JSON with
comments read and edited in place (:mod:`.jsonc`).

A leaf of the core: the standard library only, so the config, the secrets'
migration and the apps' files all build on it and it on nothing of theirs.
"""
