"""Serializers of the benchmark-only models."""

from rest_framework import serializers

from benchmarks.benchapp.models import City, Company, Country, Division, Document, Person, Team


class CountrySerializer(serializers.ModelSerializer):
    class Meta:
        model = Country
        fields = ("id", "name")


class CitySerializer(serializers.ModelSerializer):
    class Meta:
        model = City
        fields = ("id", "name")


class PersonSerializer(serializers.ModelSerializer):
    city = CitySerializer(read_only=True)

    class Meta:
        model = Person
        fields = ("id", "name", "city")


class TeamSerializer(serializers.ModelSerializer):
    lead = PersonSerializer(read_only=True)
    members = PersonSerializer(many=True, read_only=True)

    class Meta:
        model = Team
        fields = ("id", "name", "lead", "members")


class DivisionSerializer(serializers.ModelSerializer):
    head = PersonSerializer(read_only=True)
    teams = TeamSerializer(many=True, read_only=True)

    class Meta:
        model = Division
        fields = ("id", "name", "head", "teams")


class CompanySerializer(serializers.ModelSerializer):
    """Four levels below the root: divisions > teams > members > city."""

    country = CountrySerializer(read_only=True)
    divisions = DivisionSerializer(many=True, read_only=True)

    class Meta:
        model = Company
        fields = ("id", "name", "country", "divisions")


class DocumentSerializer(serializers.ModelSerializer):
    """Three of the twenty columns."""

    class Meta:
        model = Document
        fields = ("id", "title", "status")


class NetBoxStyleSerializer(serializers.ModelSerializer):
    """NetBox's base serializer: ``nested=True`` renders ``Meta.brief_fields`` and
    ``fields=`` the fields named."""

    def __init__(self, *args, nested=False, fields=None, **kwargs):
        self.nested = nested
        self._requested_fields = fields
        if nested and not fields:
            self._requested_fields = getattr(self.Meta, "brief_fields", None)
        super().__init__(*args, **kwargs)

    def get_field_names(self, declared_fields, info):
        names = super().get_field_names(declared_fields, info)
        return list(self._requested_fields) if self._requested_fields else names


class BriefPersonSerializer(NetBoxStyleSerializer):
    city = CitySerializer(read_only=True)

    class Meta:
        model = Person
        fields = ("id", "name", "city")
        brief_fields = ("id", "name")


class BriefDivisionSerializer(NetBoxStyleSerializer):
    head = BriefPersonSerializer(nested=True, read_only=True)

    class Meta:
        model = Division
        fields = ("id", "name", "head")
        brief_fields = ("id", "name")


class DynamicCompanySerializer(NetBoxStyleSerializer):
    """A NetBox-like serializer: full, brief (``nested=True``) or ``fields=``."""

    country = CountrySerializer(read_only=True)
    divisions = BriefDivisionSerializer(many=True, read_only=True)

    class Meta:
        model = Company
        fields = ("id", "name", "country", "divisions")
        brief_fields = ("id", "name")


class InitCompanySerializer(serializers.ModelSerializer):
    """Overrides ``__init__`` without changing which fields it has."""

    country = CountrySerializer(read_only=True)
    divisions = BriefDivisionSerializer(many=True, read_only=True)

    class Meta:
        model = Company
        fields = ("id", "name", "country", "divisions")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].label = "Company name"
