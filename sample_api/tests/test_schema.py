"""drf-spectacular's schema of the sample API's viewsets: no text of the library in it."""

import pytest

from drf_autoprefetch import AutoPrefetchMixin


@pytest.fixture
def schema(settings):
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "drf_spectacular"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    }
    from drf_spectacular.generators import SchemaGenerator

    from sample_api.urls import router

    # The router's viewsets: the function views were given DRF's own schema class
    # when they were decorated, which drf-spectacular refuses.
    return SchemaGenerator(patterns=router.urls).get_schema(request=None, public=True)


def descriptions(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "description":
                yield item
            yield from descriptions(item)
    elif isinstance(value, list):
        for item in value:
            yield from descriptions(item)


def test_no_operation_is_described_by_the_library(schema):
    found = list(descriptions(schema))
    mixin_lines = [line.strip() for line in AutoPrefetchMixin.__doc__.splitlines() if line.strip()]

    assert schema["paths"]["/books/"]["get"]  # the sample's endpoints are there
    assert not [text for text in found if any(line in text for line in mixin_lines)]
    assert not [text for text in found if "AutoPrefetchMixin" in text]


def test_a_views_own_docstring_is_its_description(schema):
    flexible = schema["paths"]["/books-flexible/"]["get"]

    assert flexible["description"].startswith("Books as ``?fields=``, ``?omit=``")
