"""Detail views, so hyperlinked fields have URL names to reverse."""

from rest_framework import generics

from .models import Address, City, Country, Person
from .serializers import (
    AddressSerializer,
    CitySerializer,
    CountrySerializer,
    PersonBriefSerializer,
)


class CountryDetail(generics.RetrieveAPIView):
    queryset = Country.objects.all()
    serializer_class = CountrySerializer


class CountryByCodeDetail(CountryDetail):
    lookup_field = "code"


class CityDetail(generics.RetrieveAPIView):
    queryset = City.objects.all()
    serializer_class = CitySerializer


class AddressDetail(generics.RetrieveAPIView):
    queryset = Address.objects.all()
    serializer_class = AddressSerializer


class PersonDetail(generics.RetrieveAPIView):
    queryset = Person.objects.all()
    serializer_class = PersonBriefSerializer
