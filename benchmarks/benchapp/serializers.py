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
