"""Serializers whose fields are made afresh for each instance without DRF's deep copy.

DRF gives every serializer instance its own copy of the declared fields with ``copy.deepcopy``,
which deep-copies each field's constructor arguments (error messages, choices, help texts) and then
calls the constructor again. For the send and verify bodies that was about two thirds of the
serializer's time per request. The constructors copy what they keep (error messages, validators,
choices), so calling them again with the declared arguments gives the same independent fields for
far less.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class FreshFieldsSerializer(serializers.Serializer):
    """A Serializer for flat bodies of plain fields (no nested serializers or `many=True`)."""

    def get_fields(self) -> dict[str, serializers.Field]:
        declared: dict[str, Any] = self._declared_fields  # type: ignore[attr-defined]
        return {name: type(field)(*field._args, **field._kwargs) for name, field in declared.items()}
