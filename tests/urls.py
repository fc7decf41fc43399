from django.urls import include, path

from tests.testapp import views

urlpatterns = [
    path("countries/<int:pk>/", views.CountryDetail.as_view(), name="country-detail"),
    path(
        "countries/by-code/<str:code>/",
        views.CountryByCodeDetail.as_view(),
        name="country-by-code",
    ),
    path("cities/<int:pk>/", views.CityDetail.as_view(), name="city-detail"),
    path("addresses/<int:pk>/", views.AddressDetail.as_view(), name="address-detail"),
    path("people/<int:pk>/", views.PersonDetail.as_view(), name="person-detail"),
    path("api/", include("tests.views")),
]
