"""A tenant's chains, credentials and budget, kept in this process between sends.

Each delivery asked the database for its tenant's chain, its credentials and its budget: three
SELECTs that find nothing for most tenants. The answers are now kept per process and dropped when
any TenantChain, ProviderCredential or TenantBudget is saved or deleted, or after 60 s (the
mechanism: messaging/generation_cache.py), so a changed credential, chain or cap reaches the next
send. The budget's cap is still enforced by one conditional UPDATE per call (messaging/budgets.py);
only whether the tenant has a cap, and which, is kept. Answers are shared by the process's
threads: callers only read them.
"""

from __future__ import annotations

from messaging.generation_cache import GenerationCache

TENANTS = GenerationCache("tenancy")


def connect_signals() -> None:
    """Every process drops its kept answers when a tenant's chain, credential or budget changes."""
    from django.db.models.signals import post_delete, post_save

    from messaging.budget_models import TenantBudget
    from messaging.tenancy.models import ProviderCredential, TenantChain

    for model in (TenantChain, ProviderCredential, TenantBudget):
        for signal, what in ((post_save, "save"), (post_delete, "delete")):
            signal.connect(TENANTS.changed, sender=model, dispatch_uid=f"tenancy-changed-{model.__name__}-{what}")
