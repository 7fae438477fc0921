"""The test keys' sink (sender.py): in no chain and no price table, so it is not registered."""
