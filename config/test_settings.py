"""Settings for the test suite: the same project, with tasks run inline and fast hashing.

DATABASE_URL still decides the database, so the suite runs on SQLite and on PostgreSQL.
"""

from config.settings import *  # noqa: F403
from config.settings import Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TEXT_BACKEND = "content.backends.common.LocmemTextBackend"
PUSH_BACKEND = "content.backends.common.LocmemPushBackend"
PROVIDER_WEBHOOK_SECRET = "test-webhook-secret"
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]

# async_task runs inline; tests that need real workers start qcluster with config.settings.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
