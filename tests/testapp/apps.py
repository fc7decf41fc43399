from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"
    verbose_name = "drf_autoprefetch test app"
    default_auto_field = "django.db.models.AutoField"
