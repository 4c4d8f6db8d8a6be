"""The changes a person made through the app: recorded by the features, read by the history
page and the helpdesk summary (a shared layer: `log.py` stores, `wording.py` words)."""
