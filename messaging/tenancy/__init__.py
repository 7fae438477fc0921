"""Each tenant its own providers: its chains (models.TenantChain), its own accounts at providers
(models.ProviderCredential, sealed by otpsite.secretbox), and what delivery makes of them
(routing: which provider, with whose credential, behind whose breaker and quota; receipts: whose
secret checks a webhook). Keyed by the tenant's slug, as CommunicationLog.metadata["tenant_id"]
names it, so this layer needs nothing from accounts or otp."""
