from __future__ import annotations

import pytest

from messaging.models import CommunicationLog


@pytest.mark.django_db
def test_the_database_starts_empty():
    assert CommunicationLog.objects.count() == 0
