"""Templates kept per process between sends, dropped when any template changes (messaging/templating/cache.py)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.conf import settings

from messaging.templating import cache, store
from messaging.templating.models import MessageTemplate
from otpsite.redis import get_redis
from tests import conftest

LOOKUP = {"tenant": "acme", "name": "welcome", "channel": "sms", "locale": "en"}


def new_version(body: str) -> MessageTemplate:
    return store.add_version(MessageTemplate(tenant="acme", name="welcome", channel="sms", locale="en", body=body))


@pytest.mark.django_db
def test_a_second_lookup_reads_no_database(django_assert_num_queries):
    new_version("Hello ((name))")
    assert store.current(**LOOKUP).body == "Hello ((name))"

    with django_assert_num_queries(0):
        assert store.current(**LOOKUP).body == "Hello ((name))"


@pytest.mark.django_db
def test_a_new_version_is_used_by_the_next_lookup():
    new_version("Hello ((name))")
    assert store.current(**LOOKUP).body == "Hello ((name))"

    new_version("Hi ((name)), welcome")

    assert store.current(**LOOKUP).body == "Hi ((name)), welcome"


@pytest.mark.django_db
def test_a_change_that_sends_no_signal_is_seen_once_redis_loses_the_generation():
    new_version("Hello ((name))")
    assert store.current(**LOOKUP).body == "Hello ((name))"
    MessageTemplate.objects.filter(tenant="acme").update(body="Changed by hand ((name))")  # no signal
    assert store.current(**LOOKUP).body == "Hello ((name))"  # kept: nothing said it changed

    get_redis().delete(cache.generation_key())

    assert store.current(**LOOKUP).body == "Changed by hand ((name))"


@pytest.mark.django_db(transaction=True)
def test_a_template_saved_by_another_process_is_used_by_the_next_lookup():
    new_version("Hello ((name))")
    assert store.current(**LOOKUP).body == "Hello ((name))"

    script = (
        "import django; django.setup()\n"
        "from messaging.templating import store\n"
        "from messaging.templating.models import MessageTemplate\n"
        "store.add_version(MessageTemplate(tenant='acme', name='welcome', channel='sms', locale='en',"
        " body='From the admin ((name))'))\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": conftest.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    subprocess.run([sys.executable, "-c", script], cwd=conftest.ROOT, env=env, check=True, timeout=120)

    assert store.current(**LOOKUP).body == "From the admin ((name))"
