"""The one rule of the tenant console: a member sees and changes only their own tenant's rows.

`TenantScopedMixin` goes first in a console ModelAdmin's bases and needs one attribute,
`tenant_field`: the path from the model to its tenant, either a foreign key to `Tenant`
("tenant", "endpoint__tenant") or a column holding the tenant's slug ("tenant_id" on messaging's
log rows, "tenant" on templates). From it the mixin scopes every way the admin reaches rows:

- `get_queryset`, which the changelist, change, history and delete views, actions, date
  hierarchy, value filters and the autocomplete endpoint (for this model as the target) all use;
- `save_model`, which writes the member's tenant into a direct tenant field whatever was posted;
  forms never show that field, and set it on the row before the model validates, so a unique
  constraint that holds it ("one credential per tenant and provider") is a form error, not a 500;
- choices of every foreign key on its forms: the member's tenant, or the rows the console's admin
  of the target model shows, or none for a model the console does not know;
- list columns, search fields and filters: the tenant's own are dropped (every row has the same),
  other relation filters list only the related rows in use;
- `has_*_permission`: members view; `tenant_may` names what writers (owner, admin) may also do;
  an object of another tenant is refused even if a view forgot to use `get_queryset`.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.members import membership_of
from accounts.models import Tenant, TenantMember


def member(request: HttpRequest) -> TenantMember | None:
    """The signed-in user's membership, looked up once per request."""
    if not hasattr(request, "_console_member"):
        user = getattr(request, "user", None)
        found = membership_of(user) if user is not None and user.is_active else None
        request._console_member = found  # type: ignore[attr-defined]
    return request._console_member  # type: ignore[attr-defined,no-any-return]


def tenant_of_request(request: HttpRequest) -> Tenant | None:
    found = member(request)
    return found.tenant if found is not None else None


def _last_field(model: type[models.Model], path: str) -> models.Field[Any, Any]:
    *hops, last = path.split("__")
    for hop in hops:
        model = model._meta.get_field(hop).related_model  # type: ignore[assignment]
    return model._meta.get_field(last)  # type: ignore[return-value]


def is_tenant_key(field: Any) -> bool:
    return bool(field.is_relation) and field.related_model is Tenant


class TenantScopedMixin:
    tenant_field: str = "tenant"
    # What a member who may write (owner, admin) may do besides viewing: "add", "change", "delete".
    tenant_may: frozenset[str] = frozenset()

    model: type[models.Model]
    admin_site: admin.AdminSite

    # --- rows -----------------------------------------------------------------------------------

    def tenant_lookup(self, tenant: Tenant) -> dict[str, Any]:
        """The filter that keeps `tenant`'s rows: by key for a foreign key, by slug for a slug column."""
        field = _last_field(self.model, self.tenant_field)
        return {self.tenant_field: tenant if is_tenant_key(field) else tenant.slug}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        rows = super().get_queryset(request)  # type: ignore[misc]
        tenant = tenant_of_request(request)
        return rows.filter(**self.tenant_lookup(tenant)) if tenant is not None else rows.none()

    def belongs(self, obj: Any, request: HttpRequest) -> bool:
        """Whether `obj` is the member's tenant's, read from the object itself."""
        tenant = tenant_of_request(request)
        if tenant is None:
            return False
        *hops, last = self.tenant_field.split("__")
        for hop in hops:
            obj = getattr(obj, hop, None)
            if obj is None:
                return False
        field = obj._meta.get_field(last)
        if is_tenant_key(field):
            return bool(getattr(obj, field.attname) == tenant.pk)
        return bool(getattr(obj, last) == tenant.slug)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        tenant = tenant_of_request(request)
        if tenant is None:
            raise PermissionDenied("not a tenant member")
        if "__" not in self.tenant_field:
            field = obj._meta.get_field(self.tenant_field)
            setattr(obj, field.attname, tenant.pk if is_tenant_key(field) else tenant.slug)
        if not self.belongs(obj, request):  # a nested path: the form's choices were scoped already
            raise PermissionDenied("a row of another tenant")
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    # --- forms and filters ------------------------------------------------------------------------

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[Any, ...]:
        """The platform admin's fields but the tenant's own, which a member may not choose."""
        return tuple(name for name in super().get_fields(request, obj) if name != self.tenant_field)  # type: ignore[misc]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)  # type: ignore[misc]
        tenant = tenant_of_request(request)
        if tenant is None or "__" in self.tenant_field:
            return form
        name, field = self.tenant_field, _last_field(self.model, self.tenant_field)
        value = tenant.pk if is_tenant_key(field) else tenant.slug

        class MembersForm(form):  # type: ignore[valid-type,misc]
            def _post_clean(self) -> None:
                setattr(self.instance, field.attname, value)  # before the model's own checks
                super()._post_clean()

            def _get_validation_exclusions(self) -> set[str]:
                return super()._get_validation_exclusions() - {name}  # type: ignore[no-any-return]

        MembersForm.__name__ = form.__name__
        return MembersForm

    def related_choices(self, related: type[models.Model], request: HttpRequest) -> QuerySet[Any]:
        """The rows of `related` a member may pick: their tenant, what its console admin shows, or none."""
        tenant = tenant_of_request(request)
        if related is Tenant:
            return Tenant.objects.filter(pk=tenant.pk) if tenant is not None else Tenant.objects.none()
        related_admin = self.admin_site._registry.get(related)
        if isinstance(related_admin, TenantScopedMixin):
            return related_admin.get_queryset(request)
        return related._default_manager.none()

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs["queryset"] = self.related_choices(db_field.related_model, request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        kwargs["queryset"] = self.related_choices(db_field.related_model, request)
        return super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]

    def get_list_display(self, request: HttpRequest) -> tuple[Any, ...]:
        """The platform admin's columns but the tenant's own, which would say the same on every row."""
        columns = super().get_list_display(request)  # type: ignore[misc]
        return tuple(column for column in columns if column != self.tenant_field)

    def get_search_fields(self, request: HttpRequest) -> tuple[str, ...]:
        fields = super().get_search_fields(request)  # type: ignore[misc]
        path = self.tenant_field
        return tuple(f for f in fields if not (f.lstrip("^=@") == path or f.lstrip("^=@").startswith(f"{path}__")))

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        kept: list[Any] = []
        for item in super().get_list_filter(request):  # type: ignore[misc]
            if item == self.tenant_field:
                continue
            if isinstance(item, str) and _last_field(self.model, item).is_relation:
                item = (item, admin.RelatedOnlyFieldListFilter)  # only related rows this tenant uses
            kept.append(item)
        return kept

    # --- permissions ------------------------------------------------------------------------------

    def _may(self, action: str, request: HttpRequest, obj: Any) -> bool:
        found = member(request)
        if found is None or (obj is not None and not self.belongs(obj, request)):
            return False
        return action == "view" or (action in self.tenant_may and found.may_write)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return member(request) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may("view", request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self._may("add", request, None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may("change", request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may("delete", request, obj)


def scoped(admin_class: type[admin.ModelAdmin], *, tenant_field: str, may: frozenset[str] = frozenset()) -> type:
    """`admin_class` for the console: `console_site.register(Model, scoped(ModelAdmin, tenant_field="tenant"))`."""
    attrs = {"tenant_field": tenant_field, "tenant_may": may, "__module__": __name__}
    return type(f"Console{admin_class.__name__}", (TenantScopedMixin, admin_class), attrs)


class MemberInlineMixin:
    """An inline under a scoped admin: its parent row is the tenant's, so members may view its rows."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return member(request) is not None
